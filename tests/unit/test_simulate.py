"""The simulator's tables: archive layouts, identifiers, flags, flux columns, sampling, noise,
label modes, presets and reproducibility (docs/SIMULATOR.md)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rrlfeh.config import ConfigError, load_params
from rrlfeh.config.data import SimulateConfig
from rrlfeh.config.loader import from_dict
from rrlfeh.config.simulate import Noise, Sampling
from rrlfeh.core import schema
from rrlfeh.sim.sampling import epoch_counts, g_error, transit_times
from rrlfeh.sim.simulate import simulate_tables

ROOT = Path(__file__).resolve().parents[2]
LN10_2_5 = np.log(10) / 2.5


@pytest.fixture(scope="module")
def tables():
    # the photometric label mode: what these checks of the truth table are written for
    return simulate_tables(SimulateConfig(label_mode="photometric", n_rrab=500, n_rrc=400, n_rrd=20), seed=7)


def test_tables_are_conformed_and_cover_every_star(tables):
    for name in ("vari_rrlyrae", "epoch_photometry", "labels", "truth"):
        pd.testing.assert_frame_equal(tables[name], schema.conform(tables[name], name))
    vari, truth, labels = tables["vari_rrlyrae"], tables["truth"], tables["labels"]
    counts = vari["best_classification"].value_counts().to_dict()
    assert counts == {"RRab": 500, "RRc": 400, "RRd": 20}
    assert set(truth["source_id"]) == set(vari["source_id"])
    assert set(tables["epoch_photometry"]["source_id"]) == set(vari["source_id"])
    typed = vari.set_index("source_id")["best_classification"]
    assert set(typed[labels["source_id"]]) == {"RRab", "RRc"}  # no relation, no label for RRd
    assert len(labels) == 900


def test_gaia_like_identifiers(tables):
    ids = tables["vari_rrlyrae"]["source_id"]
    assert ids.is_unique and ids.is_monotonic_increasing
    assert ids.min() >= 2**35 and ids.max() < 12 * 4**12 * 2**35
    ep = tables["epoch_photometry"]
    g = ep[ep["band"] == "G"]
    assert g["transit_id"].is_unique
    # BP and RP rows belong to the G transits (same id, same time)
    for band in ("BP", "RP"):
        b = ep[ep["band"] == band]
        assert len(b) == len(g)
        np.testing.assert_array_equal(b["transit_id"].to_numpy(), g["transit_id"].to_numpy())
        np.testing.assert_array_equal(b["time"].to_numpy(), g["time"].to_numpy())
    assert ep["solution_id"].nunique() == 1
    assert not ep.duplicated(["source_id", "transit_id", "band"]).any()


def test_periods_by_type(tables):
    v = tables["vari_rrlyrae"]
    ab, c, d = (v[v["best_classification"] == t] for t in ("RRab", "RRc", "RRd"))
    assert ab["pf"].between(0.40, 0.95).all() and ab["p1_o"].isna().all()
    assert c["p1_o"].between(0.2, 0.45).all() and c["pf"].isna().all()
    assert d["pf"].notna().all() and d["p1_o"].notna().all()
    np.testing.assert_allclose(d["p1_o"] / d["pf"], 0.745)


def test_flux_columns_and_errors_follow_the_magnitudes(tables):
    ep = tables["epoch_photometry"]
    g = ep[ep["band"] == "G"]
    np.testing.assert_allclose(g["flux"], 10 ** (-0.4 * (g["mag"] - 25.6874)), rtol=1e-12)
    np.testing.assert_allclose(g["flux_over_error"], g["flux"] / g["flux_error"], rtol=1e-12)
    sigma = g["flux_error"] / g["flux"] / LN10_2_5
    np.testing.assert_allclose(sigma, g_error(g["mag"].to_numpy(), Noise()), rtol=1e-10)
    assert g["time"].between(1666.4, 2704.4).all()


def test_error_formula_reference_values():
    # the spec's reference values are at factor 2; the default factor 1.5 matches real DR3 curves
    # better (docs/SIMULATOR.md)
    spec = Noise(factor=2.0)
    sigma = g_error(np.array([15.0, 17.0, 19.0, 10.0]), spec)
    np.testing.assert_allclose(sigma[:3], [0.0045, 0.0094, 0.0297], atol=6e-4)
    assert sigma[3] == pytest.approx(g_error(np.array([12.0]), spec)[0])  # bright saturation
    assert Noise().factor == 1.5


def test_flags_and_clean_epoch_counts(tables):
    ep, v = tables["epoch_photometry"], tables["vari_rrlyrae"]
    g = ep[ep["band"] == "G"]
    frac = g["rejected_by_variability"].mean()
    n = len(g)
    assert abs(frac - 0.02) < 4 * np.sqrt(0.02 * 0.98 / n)
    assert not ep.loc[ep["band"] != "G", "rejected_by_variability"].any()
    clean = g[~g["rejected_by_variability"]].groupby("source_id").size()
    catalogue = v.set_index("source_id")["num_clean_epochs_g"]
    np.testing.assert_array_equal(catalogue.loc[clean.index], clean)
    per_star = g.groupby("source_id").size()
    assert per_star.min() >= 12 and per_star.max() <= 260


def test_catalogue_columns_are_physical(tables):
    v = tables["vari_rrlyrae"]
    ab = v[v["best_classification"] == "RRab"]
    assert ab["peak_to_peak_g"].between(0.05, 2.0).all()
    # phi31 needs 3 harmonics, i.e. >= 21 clean epochs at 3 per fitted parameter
    has = ab["num_clean_epochs_g"] >= 21
    assert ab.loc[has, "phi31_g"].between(0, 2 * np.pi).all()
    assert (ab.loc[has, "phi31_g_error"] > 0).all()
    assert ab.loc[~has, "phi31_g"].isna().all() and (~has).sum() < 0.05 * len(ab)
    assert v["int_average_g"].between(12.5, 20.5).all()
    assert v["ra"].between(0, 360).all() and v["dec"].between(-90, 90).all()


def test_label_modes(tables):
    t = tables["truth"].merge(tables["labels"], on="source_id")
    np.testing.assert_array_equal(t["feh"], t["feh_relation"])  # photometric: the relation's value
    t = t.merge(tables["vari_rrlyrae"][["source_id", "best_classification"]], on="source_id")
    off = (t["feh"] - t["feh_true"]).abs()
    ab = t["best_classification"] == "RRab"
    assert off[ab].max() < 0.005  # no shape noise by default; the relation inverts the phi31 law
    # RRc: the inverted P-R21 relation clips at R21 = r21_min for metal-rich short-period stars,
    # whose label (the relation at the clipped R21) then differs from the true [Fe/H]
    assert (off[~ab] > 0.005).mean() < 0.15
    assert t.loc[ab, "feh_error"].between(0.28, 0.45).all()
    assert t.loc[~ab, "feh_error"].between(0.30, 0.36).all()
    assert t.loc[ab, "feh_error"].std() > 0.02
    cfg = SimulateConfig(n_rrab=60, n_rrc=60, n_rrd=0, label_mode="spectroscopic")
    spec = simulate_tables(cfg, 7)
    s = spec["truth"].merge(spec["labels"], on="source_id")
    np.testing.assert_array_equal(s["feh"], s["feh_true"])
    assert (s["feh_relation"] - s["feh_true"]).std() > 0.15  # the shape carries intrinsic scatter


def test_measured_labels_are_the_relation_on_the_fitted_shape():
    """label_mode measured: the label is the oracle (the relation on the shape fitted to the star's
    own noisy clean epochs); a star too sparse for the fit, or whose fit lands outside the
    population's [Fe/H] range, has none. The curves are unchanged."""
    base = SimulateConfig(label_mode="photometric", n_rrab=80, n_rrc=80, n_rrd=2)
    photometric = simulate_tables(base, 11)
    measured = simulate_tables(replace(base, label_mode="measured"), 11)
    for name in ("vari_rrlyrae", "epoch_photometry", "truth"):
        pd.testing.assert_frame_equal(photometric[name], measured[name])
    t = measured["truth"].merge(measured["labels"], on="source_id", how="left")
    has = np.isfinite(t["feh_oracle"]) & t["feh_oracle"].between(-2.8, 0.2)  # the params' feh ranges
    np.testing.assert_array_equal(t.loc[has, "feh"], t.loc[has, "feh_oracle"])
    assert t.loc[~has, "feh"].isna().all() and has.mean() > 0.8
    # not the noise-free relation: the fit's noise is in the label
    assert (t.loc[has, "feh"] - t.loc[has, "feh_relation"]).std() > 0.02


def test_reproducible_per_seed_and_different_for_another():
    cfg = SimulateConfig(label_mode="photometric", n_rrab=40, n_rrc=30, n_rrd=3)
    a, b, c = simulate_tables(cfg, 3), simulate_tables(cfg, 3), simulate_tables(cfg, 4)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not np.isin(a["vari_rrlyrae"]["source_id"], c["vari_rrlyrae"]["source_id"]).any()
    assert not np.allclose(np.sort(a["labels"]["feh"]), np.sort(c["labels"]["feh"]))


def test_types_draw_from_their_own_streams():
    small = simulate_tables(SimulateConfig(label_mode="photometric", n_rrab=30, n_rrc=20, n_rrd=0), 5)
    more_rrc = simulate_tables(SimulateConfig(label_mode="photometric", n_rrab=30, n_rrc=25, n_rrd=2), 5)
    ab = [t["truth"].merge(t["vari_rrlyrae"], on="source_id").query("best_classification == 'RRab'")
          .sort_values("pf")["feh_true"].to_numpy() for t in (small, more_rrc)]
    np.testing.assert_array_equal(*ab)


def test_epoch_count_distribution():
    n = epoch_counts(np.random.default_rng(0), 20000, Sampling())
    assert np.median(n) == pytest.approx(45, abs=1)
    inner = n[(n > 12) & (n < 260)]
    assert np.std(np.log(inner)) == pytest.approx(0.35, abs=0.015)
    assert n.min() >= 12 and n.max() <= 260


def test_visits_of_spins_and_fields_of_view():
    cfg = Sampling()
    counts = np.array([12, 45, 200])
    t = transit_times(np.random.default_rng(1), counts, cfg)
    assert len(t) == counts.sum()
    parts = np.split(t, np.cumsum(counts)[:-1])
    assert all(np.all(np.diff(p) >= 0) for p in parts)
    gaps = np.concatenate([np.diff(p) for p in parts])
    for spacing in (cfg.fov_interval, cfg.spin_interval, cfg.spin_interval - cfg.fov_interval):
        assert np.isclose(gaps, spacing, atol=1e-9).any()
    assert (t >= cfg.time_start).all() and (t <= cfg.time_end).all()


def test_presets_and_params_block():
    paper = from_dict(SimulateConfig, {"preset": "paper"})
    assert paper.sizes() == paper.paper and paper.sizes().n_rrab > 5 * SimulateConfig().n_rrab
    assert SimulateConfig().sizes().n_rrab == SimulateConfig().n_rrab
    # params.yaml spells out every simulator coefficient, equal to the documented defaults
    assert load_params(ROOT / "params.yaml").extract.simulate == SimulateConfig()
    with pytest.raises(ConfigError, match=r"simulate\.rrab.*phi31_fe\b"):
        from_dict(SimulateConfig, {"rrab": {"phi31_fe": 1.0}}, "params.extract.simulate")
    with pytest.raises(ConfigError, match="sampling"):
        from_dict(SimulateConfig, {"sampling": {"epochs_min": 300, "epochs_max": 260}})


def test_sky_positions_halo_and_disk():
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    from rrlfeh.config.simulate import Sky
    from rrlfeh.sim.sky import positions

    def abs_b(disk_fraction):
        ra, dec = positions(np.random.default_rng(0), 4000, Sky(disk_fraction, 6.0))
        return np.abs(SkyCoord(ra=ra * u.deg, dec=dec * u.deg).galactic.b.deg)

    halo, disk = abs_b(0.0), abs_b(1.0)
    assert np.mean(halo < 30) == pytest.approx(0.5, abs=0.03)  # isotropic: sin(30 deg) = 0.5
    assert np.median(disk) == pytest.approx(6.0 * np.log(2), abs=0.5)  # Laplace scale height
