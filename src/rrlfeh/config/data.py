"""Config of the data stages: extract (simulate | gaia | files), validate, clean."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

from rrlfeh.config.simulate import (
    Fitting,
    Noise,
    Photometry,
    RRabPhysics,
    RRcPhysics,
    RRdPhysics,
    Sampling,
    Sizes,
    Sky,
)


@dataclass(frozen=True)
class SimulateConfig:
    """Simulated Gaia DR3-like RR Lyrae (docs/SIMULATOR.md). Sizes are stars simulated, before cuts.

    `preset: paper` replaces n_rrab/n_rrc/n_rrd with `paper` (about 6002 RRab and 6613 RRc pass the
    default clean cuts, the paper's sample); the defaults give about 1000 of each.
    """

    preset: Literal["default", "paper"] = "default"
    n_rrab: int = 3000
    n_rrc: int = 2700
    n_rrd: int = 40
    paper: Sizes = field(default_factory=lambda: Sizes(17600, 17900, 200))
    # measured: the relation at phi31 (R21) fitted to each star's noisy epochs, as the real catalogue's
    # labels are made (docs/REAL_STARS.md, "What the labels are"); photometric: at the noise-free shape
    label_mode: Literal["photometric", "spectroscopic", "measured"] = "measured"
    rrab: RRabPhysics = field(default_factory=RRabPhysics)
    rrc: RRcPhysics = field(default_factory=RRcPhysics)
    rrd: RRdPhysics = field(default_factory=RRdPhysics)
    sampling: Sampling = field(default_factory=Sampling)
    noise: Noise = field(default_factory=Noise)
    photometry: Photometry = field(default_factory=Photometry)
    sky: Sky = field(default_factory=Sky)
    fitting: Fitting = field(default_factory=Fitting)

    def sizes(self) -> Sizes:
        """The star counts the preset selects."""
        if self.preset == "paper":
            return self.paper
        return Sizes(self.n_rrab, self.n_rrc, self.n_rrd)

    def check(self) -> None:
        s = self.sizes()
        if min(s.n_rrab, s.n_rrc, s.n_rrd) < 0:
            raise ValueError("simulate sizes must be >= 0")


LABEL_COLUMNS = ("source_id", "feh", "feh_error")


def _check_label_columns(mapping: dict[str, str]) -> None:
    unknown = sorted(set(mapping) - set(LABEL_COLUMNS))
    if unknown:
        raise ValueError(
            f"labels_columns: unknown key(s) {unknown}; keys are our names {list(LABEL_COLUMNS)}, "
            "values the catalogue's column names"
        )


@dataclass(frozen=True)
class GaiaConfig:
    """The Gaia archive through astroquery (TAP+ and DataLink), labels from a catalogue."""

    tap_server: str = "https://gea.esac.esa.int/"
    data_server: str = "https://gea.esac.esa.int/"
    # Selection of the TAP query on vari_rrlyrae (joined with gaia_source for ra/dec).
    vari_table: str = "gaiadr3.vari_rrlyrae"
    source_table: str = "gaiadr3.gaia_source"
    where: str = ""  # ADQL condition on vari_rrlyrae columns, e.g. "best_classification = 'RRab'"
    source_ids: list[int] = field(default_factory=list)  # only these stars (empty: all)
    top: int = 0  # at most this many stars (0: no limit)
    tap_mode: Literal["async", "sync"] = "async"  # sync answers at most 2000 rows
    # DataLink epoch photometry.
    data_release: str = "Gaia DR3"
    datalink_format: Literal["votable", "csv", "ecsv", "fits"] = "votable"
    valid_data: bool = False  # false: all transits, flags included (preprocess drops flagged ones)
    batch_size: int = 5000  # ids per DataLink request (the archive's limit is 5000)
    # Transient failures: each request is tried 1 + retries times, waiting backoff_s * 2**k between.
    retries: int = 3
    backoff_s: float = 2.0
    timeout_s: float = 300.0  # socket time-out of one request
    query_timeout_s: float = 3600.0  # how long an async TAP job may run
    labels: str = ""  # path or URL of a catalogue with source_id, feh, feh_error ("" = no labels)
    labels_columns: dict[str, str] = field(default_factory=dict)  # our name -> catalogue column

    def check(self) -> None:
        if not 1 <= self.batch_size <= 5000:
            raise ValueError(f"gaia.batch_size must be 1..5000 (the archive's limit), "
                             f"got {self.batch_size}")
        if self.top < 0 or self.retries < 0 or self.backoff_s < 0:
            raise ValueError("gaia.top, gaia.retries and gaia.backoff_s must not be negative")
        if self.timeout_s <= 0 or self.query_timeout_s <= 0:
            raise ValueError("gaia.timeout_s and gaia.query_timeout_s must be positive")
        if ";" in self.where:
            raise ValueError(f"gaia.where must be one ADQL condition, got {self.where!r}")
        _check_label_columns(self.labels_columns)


@dataclass(frozen=True)
class FilesConfig:
    """A user's own archive files (CSV, ECSV, VOTable, FITS, Parquet, zips of per-source files)."""

    vari_rrlyrae: str = ""  # the vari_rrlyrae table (with the columns of the archive's)
    epoch_photometry: list[str] = field(default_factory=list)  # files, folders or zips
    labels: str = ""  # optional; without labels the stars flow on for inference
    labels_columns: dict[str, str] = field(default_factory=dict)  # our name -> file's column
    stars_per_batch: int = 5000  # stars held in memory at once while reading epoch files
    rows_per_part: int = 100_000  # epoch rows read between two resume points (data/raw/_files_parts)

    def check(self) -> None:
        if self.stars_per_batch < 1:
            raise ValueError(f"files.stars_per_batch must be >= 1, got {self.stars_per_batch}")
        if self.rows_per_part < 1:
            raise ValueError(f"files.rows_per_part must be >= 1, got {self.rows_per_part}")
        _check_label_columns(self.labels_columns)


@dataclass(frozen=True)
class ExtractConfig:
    source: Literal["simulate", "gaia", "files"] = "simulate"
    simulate: SimulateConfig = field(default_factory=SimulateConfig)
    gaia: GaiaConfig = field(default_factory=GaiaConfig)
    files: FilesConfig = field(default_factory=FilesConfig)


@dataclass(frozen=True)
class ValidateConfig:
    """Physical ranges the Great Expectations suites enforce (raw tables, then clean tables)."""

    period_min: float = 0.2  # days; pf and p1_o where set
    period_max: float = 1.0
    mag_min: float = 5.0  # G, BP, RP magnitudes (epoch mags and int_average_g)
    mag_max: float = 25.0
    time_min: float = 1666.0  # BJD(TCB) - 2455197.5, Gaia DR3 span
    time_max: float = 2705.0
    feh_min: float = -4.0
    feh_max: float = 1.0
    amplitude_max: float = 5.0  # peak_to_peak_g sanity bound, mag (RR Lyrae reach ~1.5)
    # Fraction of vari_rrlyrae stars that must have G epochs (GX `mostly`). 1.0: a partial
    # download stops the pipeline; lower it to let clean reject the rest as `no_epochs`.
    min_fraction_with_g_epochs: float = 0.95

    def check(self) -> None:
        for lo, hi in (("period_min", "period_max"), ("mag_min", "mag_max"),
                       ("time_min", "time_max"), ("feh_min", "feh_max")):
            if not getattr(self, lo) < getattr(self, hi):
                raise ValueError(f"{lo} must be below {hi}")
        if self.period_min <= 0 or self.amplitude_max <= 0:
            raise ValueError("period_min and amplitude_max must be positive")
        if not 0.0 < self.min_fraction_with_g_epochs <= 1.0:
            raise ValueError("min_fraction_with_g_epochs must be in (0, 1]")


@dataclass(frozen=True)
class CleanConfig:
    """The paper's selection cuts (docs/METHOD.md), each a param."""

    max_feh_error: float = 0.4
    max_peak_to_peak_g: float = 1.2
    min_clean_epochs: int = 50
    max_phi31_error_rrab: float = 0.3
    types: list[str] = field(default_factory=lambda: ["RRab", "RRc"])
    # feh_error given to labels that have none (None: left missing; when no label has one, the
    # feh_error cut is skipped and the skip recorded in the metrics)
    default_feh_error: Optional[float] = None

    def check(self) -> None:
        if self.default_feh_error is not None and not self.default_feh_error >= 0:
            raise ValueError(f"default_feh_error must be >= 0 or null, got {self.default_feh_error}")
        # preprocess folds with pf (RRab) or p1_o (RRc); no other class can go downstream
        unknown = sorted(set(self.types) - {"RRab", "RRc"})
        if unknown or not self.types:
            raise ValueError(f"types must be a non-empty subset of [RRab, RRc], got {self.types}")
        for name in ("max_feh_error", "max_peak_to_peak_g", "max_phi31_error_rrab"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.min_clean_epochs < 1:
            raise ValueError("min_clean_epochs must be at least 1")
