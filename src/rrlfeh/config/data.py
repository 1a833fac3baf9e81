"""Config of the data stages: extract (simulate | gaia | files), validate, clean."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class SimulateConfig:
    """Simulated Gaia DR3-like RR Lyrae (SIMULATOR.md). Sizes are stars simulated, before cuts."""

    n_rrab: int = 2500
    n_rrc: int = 2500
    n_rrd: int = 40
    label_mode: Literal["photometric", "spectroscopic"] = "photometric"


@dataclass(frozen=True)
class GaiaConfig:
    """The Gaia archive through astroquery (TAP+ and DataLink)."""

    tap_server: str = "https://gea.esac.esa.int/"
    data_server: str = "https://gea.esac.esa.int/"
    labels: str = ""  # path or URL of a catalogue with source_id, feh, feh_error


@dataclass(frozen=True)
class FilesConfig:
    """A user's own archive files."""

    vari_rrlyrae: str = ""
    epoch_photometry: list[str] = field(default_factory=list)
    labels: str = ""


@dataclass(frozen=True)
class ExtractConfig:
    source: Literal["simulate", "gaia", "files"] = "simulate"
    simulate: SimulateConfig = field(default_factory=SimulateConfig)
    gaia: GaiaConfig = field(default_factory=GaiaConfig)
    files: FilesConfig = field(default_factory=FilesConfig)


@dataclass(frozen=True)
class ValidateConfig:
    """Physical ranges the Great Expectations suites enforce."""

    period_min: float = 0.2
    period_max: float = 1.0
    mag_min: float = 5.0
    mag_max: float = 22.0
    time_min: float = 1666.0  # BJD(TCB) - 2455197.5, Gaia DR3 span
    time_max: float = 2705.0
    feh_min: float = -4.0
    feh_max: float = 1.0


@dataclass(frozen=True)
class CleanConfig:
    """The paper's selection cuts (PAPER_NOTES.md), each a param."""

    max_feh_error: float = 0.4
    max_peak_to_peak_g: float = 1.2
    min_clean_epochs: int = 50
    max_phi31_error_rrab: float = 0.3
    types: list[str] = field(default_factory=lambda: ["RRab", "RRc"])
