"""`extract.source: simulate`: Gaia DR3-like RR Lyrae tables, the embedded default data.

Each type (RRab, RRc, RRd) draws from its own random stream keyed by (seed, type), so changing one
type's size leaves the other types' stars unchanged. Steps per type: pulsation parameters
(populations), G0 and epochs (sampling), the noisy transits, then the catalogue columns and the
oracle from Fourier fits of the clean epochs, as an SOS-like pipeline would derive them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from rrlfeh.config.data import SimulateConfig
from rrlfeh.core import schema
from rrlfeh.core.ragged import LightCurves, offsets_of, star_index
from rrlfeh.sim.catalogue import sos_columns
from rrlfeh.core.fourier import cosine_series, fit_fourier, harmonics_for
from rrlfeh.sim.oracle import oracle_feh
from rrlfeh.sim.populations import Population, draw_rrab, draw_rrc, draw_rrd
from rrlfeh.sim.sampling import epoch_counts, g_error, mag_to_flux, transit_times
from rrlfeh.sim.sky import positions, source_ids

STREAMS = {"ids": 0, "RRab": 1, "RRc": 2, "RRd": 3}
TRANSIT_ID_BASE = 17_000_000_000_000_000  # Gaia-like magnitude; ids increase with time


@dataclass(frozen=True)
class Observed:
    """One type's simulated stars and their G transits (flat arrays grouped by star)."""

    pop: Population
    ra: np.ndarray
    dec: np.ndarray
    counts: np.ndarray  # G transits per star
    time: np.ndarray
    model: np.ndarray  # noise-free G
    mag: np.ndarray
    sigma: np.ndarray  # reported error, from the observed magnitude
    flagged: np.ndarray  # rejected_by_variability
    g0: np.ndarray  # mean G magnitude of each star
    t0: float  # reference time of the pulsation phases

    @property
    def star(self) -> np.ndarray:
        return star_index(self.counts)

    def clean_curves(self) -> LightCurves:
        """The transits not flagged, with their reported errors, at the true periods."""
        every = LightCurves.from_counts(self.counts, self.time, self.mag, self.pop.period,
                                        error=self.sigma)
        return every.select(~self.flagged)


def light_curve(pop: Population, g0: np.ndarray, star: np.ndarray, time: np.ndarray,
                t0: float, phase_shift: np.ndarray | float = 0.0,
                amp_scale: np.ndarray | float = 1.0) -> np.ndarray:
    """Noise-free G magnitude of star[i] at time[i] (the RRd fundamental added as a sinusoid);
    phase_shift (cycles) and amp_scale are the per-transit jitter of the pulsation."""
    cycles = (time - t0) / pop.period[star] + phase_shift
    mag = g0[star] + amp_scale * cosine_series(cycles, pop.amp[star], pop.phase[star])
    second = np.isfinite(pop.second_period[star])
    if second.any():
        s = star[second]
        mag[second] += pop.second_amp[s] * np.cos(
            2 * np.pi * (time[second] - t0) / pop.second_period[s] + pop.second_phase[s])
    return mag


def _jitter(rng: np.random.Generator, s, star: np.ndarray, n: int):
    """Per-transit phase shift (cycles) and amplitude scale; (0, 1) when the jitter is off, drawing
    nothing, so a simulator without it reproduces its stars exactly."""
    if s.phase_jitter == 0 and s.amplitude_jitter == 0:
        return 0.0, 1.0
    k = np.exp(s.jitter_sigma_ln * rng.standard_normal(n))[star]
    shift = s.phase_jitter * k * rng.standard_normal(len(star))
    scale = 1.0 + s.amplitude_jitter * k * rng.standard_normal(len(star))
    return shift, scale


def observe(rng: np.random.Generator, pop: Population, cfg: SimulateConfig) -> Observed:
    """Brightness, sky position, epochs and noisy G transits of a population."""
    s, n = cfg.sampling, len(pop)
    g0 = np.clip(s.g0_mean + s.g0_sd * rng.standard_normal(n), s.g0_min, s.g0_max)
    counts = epoch_counts(rng, n, s)
    time = transit_times(rng, counts, s)
    star = star_index(counts)
    t0 = 0.5 * (s.time_start + s.time_end)  # any epoch would do: phi_1 is uniform
    shift, scale = _jitter(rng, s, star, n)
    model = light_curve(pop, g0, star, time, t0, shift, scale)
    flagged = rng.random(len(time)) < s.rejected_fraction
    # Flagged transits are outliers (that is why the variability pipeline rejects them); a few
    # unflagged ones are too, as in the archive.
    outlier = flagged
    if s.clean_outlier_fraction > 0:
        outlier = flagged | (rng.random(len(time)) < s.clean_outlier_fraction)
    noise = g_error(model, cfg.noise) * rng.standard_normal(len(time))
    mag = model + noise + np.where(outlier, s.outlier_sd * rng.standard_normal(len(time)), 0.0)
    ra, dec = positions(rng, n, cfg.sky)
    sigma = g_error(mag, cfg.noise)
    return Observed(pop, ra, dec, counts, time, model, mag, sigma, flagged, g0, t0)


def derived_columns(obs: Observed, cfg: SimulateConfig) -> tuple[dict, np.ndarray]:
    """SOS-like catalogue columns and the oracle [Fe/H], both from fits of the clean G epochs."""
    clean = obs.clean_curves()
    cat = sos_columns(clean, cfg.fitting)
    kind, f = obs.pop.kind, cfg.fitting
    if kind == "RRd":
        return cat, np.full(len(clean), np.nan)
    k_max = f.oracle_harmonics_rrab if kind == "RRab" else f.oracle_harmonics_rrc
    fit = fit_fourier(clean, harmonics_for(clean.counts, k_max, f.epochs_per_parameter), f.chunk_stars)
    relation = cfg.rrab.relation if kind == "RRab" else cfg.rrc.relation
    return cat, oracle_feh(kind, fit, relation)


@dataclass(frozen=True)
class BandRows:
    """One band's per-transit values, in the order of the concatenated G transits."""

    name: str
    mag: np.ndarray
    flux: np.ndarray
    flux_error: np.ndarray
    flux_over_error: np.ndarray
    flagged: np.ndarray


def _g_rows(obs: list[Observed], cfg: SimulateConfig) -> BandRows:
    mag = np.concatenate([o.mag for o in obs])
    sigma = np.concatenate([o.sigma for o in obs])
    flux = mag_to_flux(mag, sigma, cfg.noise.zero_point_g)
    return BandRows("G", mag, *flux, np.concatenate([o.flagged for o in obs]))


def _colour_rows(band: str, rngs, obs: list[Observed], cfg: SimulateConfig) -> BandRows:
    """BP or RP at the G transits: the G curve shifted and scaled, errors error_scale times G's."""
    p = cfg.photometry
    offset, ratio, zp = {"BP": (p.bp_offset, p.bp_amplitude_ratio, p.zero_point_bp),
                         "RP": (p.rp_offset, p.rp_amplitude_ratio, p.zero_point_rp)}[band]
    mags = []
    for rng, o in zip(rngs, obs):
        g0 = o.g0[o.star]
        model = g0 + offset + ratio * (o.model - g0)
        noise = p.bp_rp_error_scale * g_error(model, cfg.noise) * rng.standard_normal(len(model))
        mags.append(model + noise)
    mag = np.concatenate(mags)
    flux = mag_to_flux(mag, p.bp_rp_error_scale * g_error(mag, cfg.noise), zp)
    return BandRows(band, mag, *flux, np.zeros(len(mag), dtype=bool))


def _band_column(names: list[str], n_transits: int) -> pd.Series:
    """The repeating band names as an Arrow-backed string column (building millions of Python
    strings would dominate the run time)."""
    codes = pa.array(np.tile(np.arange(len(names), dtype=np.int8), n_transits))
    decoded = pa.DictionaryArray.from_arrays(codes, pa.array(names)).cast(pa.string())
    return pd.Series(decoded, dtype=pd.StringDtype("pyarrow"))


def _epoch_table(obs: list[Observed], ids: list[np.ndarray], rngs,
                 cfg: SimulateConfig) -> pd.DataFrame:
    """All transits sorted by (source_id, time, band); the G/BP/RP rows of a transit share its
    transit_id, which is unique per transit and increases with time as Gaia's does."""
    sid = np.concatenate([i[o.star] for o, i in zip(obs, ids)])
    time = np.concatenate([o.time for o in obs])
    transit_id = np.empty(len(time), dtype=np.int64)
    transit_id[np.argsort(time, kind="stable")] = TRANSIT_ID_BASE + np.arange(len(time))
    bands = [_g_rows(obs, cfg)]
    if cfg.photometry.write_bp_rp:
        bands += [_colour_rows(b, rngs, obs, cfg) for b in ("BP", "RP")]
    order = np.lexsort((time, sid))
    n_rows = len(time) * len(bands)

    def per_transit(values):  # one value per transit, repeated on each band's row
        return np.repeat(values[order], len(bands))

    def per_band(field):  # rows ordered transit by transit, bands in order within a transit
        return np.column_stack([getattr(b, field)[order] for b in bands]).ravel()

    return pd.DataFrame({
        "source_id": per_transit(sid),
        "transit_id": per_transit(transit_id),
        "band": _band_column([b.name for b in bands], len(time)),
        "time": per_transit(time),
        "mag": per_band("mag"),
        "flux": per_band("flux"),
        "flux_error": per_band("flux_error"),
        "flux_over_error": per_band("flux_over_error"),
        "rejected_by_photometry": np.zeros(n_rows, dtype=bool),
        "rejected_by_variability": per_band("flagged"),
        "other_flags": np.zeros(n_rows, dtype=np.int64),
        "solution_id": np.full(n_rows, cfg.photometry.solution_id, dtype=np.int64),
    })


def measured_labels(oracle: np.ndarray, kind: str, cfg: SimulateConfig) -> np.ndarray:
    """label_mode measured: the relation on the shape fitted to the star's own noisy clean epochs
    (the oracle), as a catalogue that measures phi31 (R21) from them makes its labels; like such a
    catalogue, no label where the fit lands outside the population's [Fe/H] range (a sparse star's
    fit can give any value; docs/SIMULATOR.md)."""
    prior = {"RRab": cfg.rrab.feh, "RRc": cfg.rrc.feh}.get(kind)
    if prior is None:
        return np.full(len(oracle), np.nan)
    return np.where((oracle >= prior.min) & (oracle <= prior.max), oracle, np.nan)


def simulate_tables(cfg: SimulateConfig, seed: int) -> dict[str, pd.DataFrame]:
    """The vari_rrlyrae, epoch_photometry, labels and truth tables, conformed; deterministic
    for a seed."""
    sizes = cfg.sizes()
    draws = {
        "RRab": lambda r: draw_rrab(r, sizes.n_rrab, cfg.rrab, cfg.label_mode),
        "RRc": lambda r: draw_rrc(r, sizes.n_rrc, cfg.rrc, cfg.label_mode),
        "RRd": lambda r: draw_rrd(r, sizes.n_rrd, cfg.rrd, cfg.rrc.feh),
    }
    rngs, obs, vari, truth, labels = [], [], [], [], []
    for kind, draw in draws.items():
        rng = np.random.default_rng([seed, STREAMS[kind]])
        o = observe(rng, draw(rng), cfg)
        rngs.append(rng)
        obs.append(o)
    sizes_drawn = [len(o.pop) for o in obs]
    all_ids = source_ids(np.random.default_rng([seed, STREAMS["ids"]]), sum(sizes_drawn))
    ids = np.split(all_ids, offsets_of(sizes_drawn)[1:-1])
    for o, sid in zip(obs, ids):
        cat, oracle = derived_columns(o, cfg)
        pop = o.pop
        vari.append(pd.DataFrame({"source_id": sid, "ra": o.ra, "dec": o.dec, "pf": pop.pf,
                                  "p1_o": pop.p1_o, "best_classification": pop.kind, **cat}))
        truth.append(pd.DataFrame({"source_id": sid, "feh_true": pop.feh_true,
                                   "feh_relation": pop.feh_relation, "feh_oracle": oracle}))
        label = measured_labels(oracle, pop.kind, cfg) if cfg.label_mode == "measured" else pop.label
        has = np.isfinite(label)
        labels.append(pd.DataFrame({"source_id": sid[has], "feh": label[has],
                                    "feh_error": pop.feh_error[has]}))

    def table(parts, name):
        df = pd.concat(parts, ignore_index=True).sort_values("source_id", kind="stable")
        return schema.conform(df, name)

    return {
        "vari_rrlyrae": table(vari, "vari_rrlyrae"),
        "epoch_photometry": schema.conform(_epoch_table(obs, ids, rngs, cfg), "epoch_photometry"),
        "labels": table(labels, "labels"),
        "truth": table(truth, "truth"),
    }
