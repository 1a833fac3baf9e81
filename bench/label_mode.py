"""Which phi31 measurement the real labels resemble (issue 21: the simulator's label mode).

The labelled real RRab carry the paper authors' photometric [Fe/H]: a P-phi31 relation applied to
some phi31 measured from the DR3 G epochs. On the calibration half only (rrlfeh.evaluation.split),
this fits [Fe/H] = a + b (P - 0.6) + c (phi31 - 2.3) for phi31 measured many ways (3, 4, 5, 6
harmonics, the simulator oracle's order by epoch count, or the BIC / AIC order per star;
unweighted or weighted by the epoch errors; with or without iterative 3-sigma clipping), plus a
scan of weighted orders by epoch count, and reports how closely each reproduces the labels (RMSE,
median |residual|, per epoch bin), with one more term (A2, R21, phi31^2) for the reference and the
best. Then: do the labels follow the noisy phi31 of these very epochs, or a noise-free one? Each
star's own phi31 noise (its formal error, and the spread over a bootstrap of its epochs, which runs
larger), times the line's slope c, is the noise in dex:
  - variance: if the labels were the relation of a noise-free phi31, each residual would carry the
    star's measurement noise: median |residual| / noise >= 0.67 and <= 68 % of stars within their
    noise; if they are the relation of this measurement, 0 and 100 %. Overall, per noise tercile,
    and residual^2 = s0^2 + k noise^2 (k ~ 1 noise-free, ~ 0 this measurement; the bootstrap's
    tail pulls it down);
  - shrinkage: phi31 pulled toward the population's phi31 at the star's period by its noise
    (empirical Bayes: a noise-free-ish proxy). The line on it should do better if the labels are
    noise-free, worse if they follow the raw measurement; and [Fe/H] ~ 1 + P + phi31_raw +
    phi31_shrunk says which of the two takes the weight.
How these read is calibrated on twins of the same stars (their own epoch times, periods and errors,
a known curve and Gaussian noise at their own scatter) with labels made noise-free, from this
measurement, or from another one (5 harmonics, or the oracle's order, weighted): every mode and
both tests again.
Prints JSON; skips with a message where the data folder is absent.

    python -m bench.label_mode [--data ../shared/data/gaia_dr3_rrab_labelled] [--draws 200]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "gaia_dr3_rrab_labelled"
HARMONICS = (3, 4, 5, 6, "bic", "aic", "oracle")
CLIP_SIGMA = 3.0
MAX_ORDER = 8  # the BIC / AIC search: 3 .. 8 harmonics
REFERENCE = "K4"  # the baseline's measurement: 4 harmonics, unweighted, no clipping
# "oracle": the simulator oracle's order (rrlfeh.config.simulate.Fitting defaults): up to 6
# harmonics, fewer where the epochs give fewer than 3 per parameter (here never below 3: phi31)
ORACLE_MAX, ORACLE_EPOCHS_PER_PARAMETER = 6, 3.0


@dataclasses.dataclass(frozen=True)
class Mode:
    harmonics: int | str  # a count, or "bic" / "aic" / "oracle"
    weighted: bool = False
    clip: bool = False

    @property
    def name(self) -> str:
        h = f"K{self.harmonics}" if isinstance(self.harmonics, int) else self.harmonics.upper()
        return h + "_weighted" * self.weighted + "_clipped" * self.clip


MODES = [Mode(h, w, c) for h in HARMONICS for w in (False, True) for c in (False, True)]


def mag_errors(folder: Path, curves) -> np.ndarray:
    """The G magnitude error of each epoch of `curves` (1.0857 / flux_over_error), matched by star
    and time from the folder's epoch_photometry.csv (the readers keep only time and mag)."""
    e = pd.read_csv(folder / "epoch_photometry.csv",
                    usecols=["source_id", "band", "time", "flux_over_error"])
    e = e[(e["band"] == "G") & e["time"].notna()]
    key = pd.MultiIndex.from_arrays([e["source_id"].to_numpy(np.int64), np.round(e["time"].to_numpy(), 6)])
    want = pd.MultiIndex.from_arrays([curves.source_id[curves.star], np.round(curves.time, 6)])
    pos = key.get_indexer(want)
    if (pos < 0).any():
        raise ValueError(f"{int((pos < 0).sum())} epochs without an error in epoch_photometry.csv")
    return 2.5 / np.log(10) / e["flux_over_error"].to_numpy(float)[pos]


def orders(curves, mode: Mode) -> np.ndarray | int:
    """The harmonic count(s) of a mode: its own, the oracle's by epoch count, or the BIC / AIC
    choice per star."""
    from rrlfeh.evaluation.curve_stats import chosen_harmonics

    if isinstance(mode.harmonics, int):
        return mode.harmonics
    if mode.harmonics == "oracle":
        return by_epochs(curves.counts, ORACLE_MAX, ORACLE_EPOCHS_PER_PARAMETER)
    return chosen_harmonics(curves, MAX_ORDER, mode.harmonics, weighted=mode.weighted)


def by_epochs(counts, most: int, epochs_per_parameter: float) -> np.ndarray:
    """Up to `most` harmonics, fewer where the epochs give fewer than `epochs_per_parameter` per
    parameter, never below 3 (phi31 needs them)."""
    from rrlfeh.core.fourier import harmonics_for

    return np.maximum(harmonics_for(counts, most, epochs_per_parameter), 3)


def order_scan(curves, feh: np.ndarray) -> dict:
    """Weighted fits of up to K harmonics at E epochs per parameter (in sample: a scan, the best of
    it flatters): the line's RMSE and median |residual|."""
    out = {}
    for most in (5, 6, 8):
        for epp in (2.5, 3.0, 3.5, 4.0):
            shape = measure(curves, Mode(most, True), by_epochs(curves.counts, most, epp))
            r = fit(design(shape["period"], shape["phi31"]), feh)[1]
            out[f"up to {most} at {epp}"] = [round(float(np.sqrt(np.mean(r**2))), 4),
                                              round(float(np.median(np.abs(r))), 4)]
    return out


def measure(curves, mode: Mode, harmonics) -> pd.DataFrame:
    from rrlfeh.evaluation.curve_stats import shape_parameters

    return shape_parameters(curves, harmonics, weighted=mode.weighted,
                            clip_sigma=CLIP_SIGMA if mode.clip else None)


def design(period, phi31, *extra) -> np.ndarray:
    from rrlfeh.evaluation.curve_stats import PHI31_PIVOT

    return np.column_stack([np.ones(len(period)), np.asarray(period) - 0.6,
                            np.asarray(phi31) - PHI31_PIVOT, *extra])


def fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares coefficients and residuals (y - x coef)."""
    coef = np.linalg.lstsq(x, y, rcond=None)[0]
    return coef, y - x @ coef


def scores(resid: np.ndarray, n_epochs: np.ndarray) -> dict:
    """RMSE and median |residual|, overall and per epoch bin (<40, 40-49, 50-59, >=60)."""
    from rrlfeh.evaluation.scores import epoch_bin_names, epoch_bins

    def one(r):
        return {"n": int(len(r)), "rmse": round(float(np.sqrt(np.mean(r**2))), 4),
                "median_abs": round(float(np.median(np.abs(r))), 4),
                "share_within_0.1": round(float(np.mean(np.abs(r) <= 0.1)), 3)} if len(r) else {"n": 0}

    names = epoch_bins(n_epochs)
    return {**one(resid), "bins": {b: one(resid[names == b]) for b in epoch_bin_names()}}


def bootstrap_sd(curves, mode: Mode, harmonics, draws: int, seed: int) -> np.ndarray:
    """Each star's phi31 spread over `draws` resamples of its own epochs (with replacement), the
    mode's harmonic counts held fixed."""
    rng = np.random.default_rng(seed)
    star, starts, counts = curves.star, curves.starts, curves.counts
    phis = []
    for _ in range(draws):
        rows = starts[star] + np.floor(rng.random(len(star)) * counts[star]).astype(np.int64)
        resampled = dataclasses.replace(
            curves, time=curves.time[rows], mag=curves.mag[rows],
            error=None if curves.error is None else curves.error[rows])
        phis.append(measure(resampled, mode, harmonics)["phi31"].to_numpy())
    phis = np.asarray(phis)
    centre = np.angle(np.mean(np.exp(1j * phis), axis=0))  # circular: no wrap can inflate it
    return np.sqrt(np.mean(np.angle(np.exp(1j * (phis - centre))) ** 2, axis=0))


def _noise_rows(resid: np.ndarray, noise: np.ndarray) -> dict:
    z = np.abs(resid) / noise
    return {"n": int(len(resid)), "median_noise": round(float(np.median(noise)), 4),
            "rmse": round(float(np.sqrt(np.mean(resid**2))), 4),
            "median_abs": round(float(np.median(np.abs(resid))), 4),
            "median_abs_over_noise": round(float(np.median(z)), 3),
            "share_abs_below_noise": round(float(np.mean(z <= 1)), 3)}


def variance_test(resid: np.ndarray, noise: np.ndarray, draws: int = 1000, seed: int = 0) -> dict:
    """How the residuals scale with each star's own noise (c sd, dex). If the labels were the
    relation of a noise-free phi31, |resid| would be at least the noise: a median |resid| / noise of
    0.67 or more and at most 68 % of stars with |resid| <= noise (Gaussian); if they are the
    relation of this measurement, both go to 0 and 100 %. Overall and per tercile of the noise;
    and resid^2 = s0^2 + k noise^2 by least squares (k about 1 noise-free, 0 this measurement;
    sensitive to the noise's tail), k's 16/84 % range over resamples of the stars."""
    x = np.column_stack([np.ones(len(resid)), noise**2])
    k = np.linalg.lstsq(x, resid**2, rcond=None)[0]
    idx = np.random.default_rng(seed).integers(0, len(resid), (draws, len(resid)))
    ks = [np.linalg.lstsq(x[i], resid[i] ** 2, rcond=None)[0][1] for i in idx]
    tercile = np.searchsorted(np.quantile(noise, [1 / 3, 2 / 3]), noise)
    return {**_noise_rows(resid, noise),
            "by_noise_tercile": [_noise_rows(resid[tercile == t], noise[tercile == t]) for t in range(3)],
            "s0": round(float(np.sqrt(max(k[0], 0.0))), 4), "k": round(float(k[1]), 3),
            "k_p16_p84": [round(float(v), 3) for v in np.percentile(ks, [16, 84])]}


def shrunk(period: np.ndarray, phi31: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, float]:
    """phi31 pulled toward the population's mean at the star's period by its own noise:
    mu(P) + tau^2 / (tau^2 + sd^2) (phi31 - mu(P)), with mu(P) linear and tau (the spread of the
    noise-free phi31 at fixed P) by maximum likelihood, phi31 - mu ~ N(0, tau^2 + sd^2). Also tau."""
    from scipy.optimize import minimize_scalar

    x = np.column_stack([np.ones(len(period)), period - 0.6])
    tau2 = float(np.var(phi31))
    for _ in range(20):  # mu by weighted least squares at the current tau, then tau at that mu
        w = 1.0 / (tau2 + sd**2)
        mu = x @ np.linalg.lstsq(x * np.sqrt(w)[:, None], phi31 * np.sqrt(w), rcond=None)[0]
        dev = phi31 - mu
        nll = lambda t2: float(np.sum(np.log(t2 + sd**2) + dev**2 / (t2 + sd**2)))  # noqa: E731
        tau2 = float(minimize_scalar(nll, bounds=(1e-6, 4.0), method="bounded").x)
    return mu + tau2 / (tau2 + sd**2) * dev, float(np.sqrt(tau2))


def shrinkage_test(shape: pd.DataFrame, feh: np.ndarray, sd: np.ndarray, draws: int = 1000,
                   seed: int = 0) -> dict:
    """The line on raw and on shrunk phi31 (RMSE), and [Fe/H] ~ 1 + P + phi31_raw + phi31_shrunk:
    the two phi31 coefficients with their 16/84 % ranges over resamples of the stars."""
    period, phi = shape["period"].to_numpy(), shape["phi31"].to_numpy()
    phi_s, tau = shrunk(period, phi, sd)
    _, r_raw = fit(design(period, phi), feh)
    _, r_s = fit(design(period, phi_s), feh)
    x = design(period, phi, phi_s - phi)  # raw + shrunk: the columns reparametrized as raw, shrunk - raw
    idx = np.random.default_rng(seed).integers(0, len(feh), (draws, len(feh)))
    coefs = np.array([np.linalg.lstsq(x[i], feh[i], rcond=None)[0] for i in idx])
    both = fit(x, feh)[0]

    def raw_shrunk(c):  # a + ... + c2 raw + c3 (shrunk - raw) = (c2 - c3) raw + c3 shrunk
        return c[..., 2] - c[..., 3], c[..., 3]

    raw_c, shr_c = raw_shrunk(both)
    raw_b, shr_b = raw_shrunk(coefs)
    return {"tau": round(tau, 4), "rmse_line_raw": round(float(np.sqrt(np.mean(r_raw**2))), 4),
            "rmse_line_shrunk": round(float(np.sqrt(np.mean(r_s**2))), 4),
            "coef_raw": round(float(raw_c), 3),
            "coef_raw_p16_p84": [round(float(v), 3) for v in np.percentile(raw_b, [16, 84])],
            "coef_shrunk": round(float(shr_c), 3),
            "coef_shrunk_p16_p84": [round(float(v), 3) for v in np.percentile(shr_b, [16, 84])]}


def noise_tests(curves, mode: Mode, shape: pd.DataFrame, feh: np.ndarray, harmonics,
                draws: int, seed: int = 0) -> dict:
    """Both tests for one mode, from its bootstrap phi31 noise."""
    sd = bootstrap_sd(curves, mode, harmonics, draws, seed)
    period, phi = shape["period"].to_numpy(), shape["phi31"].to_numpy()
    coef, resid = fit(design(period, phi), feh)
    err = shape["phi31_error"].to_numpy()
    return {"bootstrap_draws": draws,
            "phi31_sd_bootstrap_median": round(float(np.median(sd)), 4),
            "phi31_error_formal_median": round(float(np.median(err)), 4),
            "line_phi31_slope": round(float(coef[2]), 3),
            "variance_bootstrap_sd": variance_test(resid, coef[2] * sd),
            "variance_formal_error": variance_test(resid, coef[2] * err),
            "shrinkage_bootstrap_sd": shrinkage_test(shape, feh, sd),
            "shrinkage_formal_error": shrinkage_test(shape, feh, err)}


def extras(shape: pd.DataFrame, feh: np.ndarray, n_epochs: np.ndarray) -> dict:
    """The line with one more term (in-sample): A2 = R21 A1, R21, or phi31 squared."""
    period, phi = shape["period"].to_numpy(), shape["phi31"].to_numpy()
    a2 = (shape["R21"] * shape["A1"]).to_numpy()
    terms = {"+A2": a2 - np.median(a2), "+R21": shape["R21"].to_numpy() - 0.45,
             "+phi31^2": (phi - 2.3) ** 2, "+A2+R21": None}
    terms["+A2+R21"] = np.column_stack([terms["+A2"], terms["+R21"]])
    return {name: {"coefficients": len(design(period, phi, t).T),
                   **{k: v for k, v in scores(fit(design(period, phi, t), feh)[1], n_epochs).items()
                      if k != "bins"}}
            for name, t in terms.items()}


def calibration_stars(folder: Path):
    """The labelled calibration-half stars with their curves (with epoch errors)."""
    from rrlfeh.evaluation.real_data import read_real
    from rrlfeh.evaluation.split import is_calibration

    stars, curves = read_real(folder)
    curves = dataclasses.replace(curves, error=mag_errors(folder, curves))
    keep = np.flatnonzero(is_calibration(stars["source_id"]) & np.isfinite(stars["feh"].to_numpy()))
    return stars.iloc[keep].reset_index(drop=True), curves.take(keep)


def twins(curves, seed: int = 0):
    """Synthetic twins of the real stars, for reading the tests: each star's own epoch times, period
    and errors, with a known curve (its weighted fit of 3-6 harmonics, 3 epochs per parameter) plus
    Gaussian noise of each epoch's error times the star's rms normalized residual. Returns the
    twin curves and their noise-free phi31."""
    from rrlfeh.core.fourier import cosine_series, fit_fourier, harmonics_for
    from rrlfeh.evaluation.curve_stats import PHI31_PIVOT
    from rrlfeh.sim.oracle import wrap_near

    f = fit_fourier(curves, np.clip(harmonics_for(curves.counts, 6, 3.0), 3, 6))
    star = curves.star
    cyc = (curves.time - f.t_ref[star]) / curves.period[star]
    clean = f.mean[star] + cosine_series(cyc[:, None], f.amp[star][:, None, :],
                                         f.phase[star][:, None, :])[:, 0]
    sd = curves.error * np.sqrt(f.chi2_red)[star]
    mag = clean + sd * np.random.default_rng(seed).standard_normal(len(clean))
    return dataclasses.replace(curves, mag=mag), wrap_near(f.phi_k1(3), PHI31_PIVOT)


def twin_tests(curves, coef: np.ndarray, tested: list[str], draws: int) -> dict:
    """On the twins, labels made by the real line (`coef`) from the noise-free phi31, or from phi31
    measured on the twins' noisy epochs (4 harmonics unweighted: the reference measurement; 5
    weighted, or weighted at the oracle's order: others): per label kind, every mode's RMSE and
    median |residual| and the noise tests of the `tested` modes, as on the real stars."""
    twin, phi_true = twins(curves)
    modes = {m.name: (m, orders(twin, m)) for m in MODES}
    shapes = {name: measure(twin, m, h) for name, (m, h) in modes.items()}
    period = shapes[REFERENCE]["period"].to_numpy()
    labels = {"noise_free": design(period, phi_true) @ coef,
              **{f"measured_{n}": design(period, shapes[n]["phi31"]) @ coef
                 for n in (REFERENCE, "K5_weighted", "ORACLE_weighted")}}
    return {name: {"modes_rmse_median_abs": {
                       n: [r["rmse"], r["median_abs"]] for n, r in mode_rows(shapes, modes, y, twin.counts).items()},
                   "noise_tests": {n: noise_tests(twin, modes[n][0], shapes[n], y, modes[n][1], draws)
                                   for n in tested}}
            for name, y in labels.items()}


def mode_rows(shapes: dict, modes: dict, feh: np.ndarray, n_epochs: np.ndarray) -> dict:
    """Per mode: the line's coefficients, RMSE and median |residual| overall and per epoch bin."""
    out = {}
    for name, s in shapes.items():
        coef, resid = fit(design(s["period"], s["phi31"]), feh)
        out[name] = {"coef_a_b_c": [round(float(c), 4) for c in coef], **scores(resid, n_epochs)}
        if not isinstance(modes[name][0].harmonics, int):
            out[name]["harmonics_p16_p50_p84"] = [float(v) for v in np.percentile(modes[name][1], [16, 50, 84])]
    return out


def study(folder: Path, draws: int) -> dict:
    stars, curves = calibration_stars(folder)
    modes = {m.name: (m, orders(curves, m)) for m in MODES}
    shapes = {name: measure(curves, m, h) for name, (m, h) in modes.items()}
    # the stars of the baseline: a usable 4-harmonic phi31 (error < 0.3 rad), finite in every mode
    use = shapes[REFERENCE]["phi31_error"].to_numpy() < 0.3
    for s in shapes.values():
        use &= np.isfinite(s["phi31"].to_numpy())
    keep = np.flatnonzero(use)
    curves, feh, n_epochs = curves.take(keep), stars["feh"].to_numpy(float)[keep], curves.counts[keep]
    modes = {n: (m, h if isinstance(h, int) else np.asarray(h)[keep]) for n, (m, h) in modes.items()}
    shapes = {n: s.iloc[keep].reset_index(drop=True) for n, s in shapes.items()}
    rows = mode_rows(shapes, modes, feh, n_epochs)  # n_epochs: clean G epochs as read, before clipping
    ranked = sorted(rows, key=lambda n: rows[n]["rmse"])
    tested = list(dict.fromkeys([REFERENCE, ranked[0]]))
    more = {n: extras(shapes[n], feh, n_epochs) for n in tested}
    every = [(rows[n]["rmse"], n) for n in rows] + [(r["rmse"], f"{n}{t}") for n in more for t, r in more[n].items()]
    return {"data": str(folder), "half": "calibration", "stars_labelled": int(len(stars)),
            "stars_used": int(len(keep)), "modes": rows, "ranked_by_rmse": ranked,
            "extras_in_sample": more, "order_scan_weighted": order_scan(curves, feh),
            # how deterministic the labels are: the best any of these does, in sample
            "best_in_sample": {"rmse": min(every)[0], "by": min(every)[1],
                               "median_abs": min(rows[n]["median_abs"] for n in rows),
                               "median_abs_by": min(rows, key=lambda n: rows[n]["median_abs"])},
            "noise_tests": {n: noise_tests(curves, modes[n][0], shapes[n], feh, modes[n][1], draws)
                            for n in tested},
            "noise_tests_on_twins": twin_tests(curves, np.asarray(rows[REFERENCE]["coef_a_b_c"]), tested, draws)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--draws", type=int, default=200, help="bootstrap resamples of each star's epochs")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(json.dumps({"skipped": f"{args.data} not found: no labelled real stars"}))
        return
    text = json.dumps(study(args.data, args.draws), indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
