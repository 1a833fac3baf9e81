"""A registered model on real Gaia DR3 stars with published [Fe/H] (docs/REAL_STARS.md).

Runs `rrlfeh predict`'s own code on a labelled folder in archive layout (vari_rrlyrae.*,
epoch_photometry*, labels.*), then scores the estimates on the fixed calibration and scoring halves
(rrlfeh.evaluation.split): RMSE, bias, MAE, R2 on all scored stars and on the unflagged ones, the
1-sigma coverage of feh_error (and the predict.extra_error that would make it 68% on the calibration
half), the linear P-phi31 baseline on the same stars (fitted on the
calibration half, and 5-fold cross-validated on all), residual plots, and the accounting
stars in = scored + rejected. A model fine-tuned on some of these stars is refused unless
--exclude-tuned drops those stars from the scores. Prints JSON.

    python bench/real_stars.py [--model models:/rrl-feh@champion | --models-dir models]
        [--data ../shared/data/gaia_dr3_rrab_labelled] [--plots DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "gaia_dr3_rrab_labelled"


def model_info(model_uri: str) -> tuple[np.ndarray, dict]:
    """The source_ids a model was fine-tuned on (its manifests' `finetune.source_ids`) and its
    model_config (predict settings logged with it)."""
    import mlflow
    import yaml

    from rrlfeh.serving.packaging import tuned_source_ids

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=tmp)
                    if model_uri.startswith("models:/") else model_uri)
        mlmodel = yaml.safe_load((path / "MLmodel").read_text()) if (path / "MLmodel").exists() else {}
        pyfunc = mlmodel.get("flavors", {}).get("python_function", {})
        config = pyfunc.get("config") or pyfunc.get("model_config") or {}  # MLflow 3 writes `config`
        return tuned_source_ids(path), config


def extra_error_for(resid: np.ndarray, feh_error: np.ndarray, extra_now,
                    coverage: float = 0.6827) -> float:
    """The extra term at which feh_error covers `coverage` of these residuals: the models' own term
    is feh_error with the current extra term (per star, or one for all) taken out."""
    ok = np.isfinite(resid) & np.isfinite(feh_error)
    r = np.abs(resid[ok])
    own2 = np.maximum(feh_error[ok] ** 2 - np.broadcast_to(np.asarray(extra_now, float), resid.shape)[ok] ** 2, 0.0)
    if not len(r) or np.mean(r <= np.sqrt(own2)) >= coverage:
        return 0.0
    lo, hi = 0.0, 5.0
    for _ in range(60):  # coverage grows with the extra term: bisection
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if np.mean(r <= np.sqrt(own2 + mid**2)) < coverage else (lo, mid)
    return round(hi, 4)


def plots(table: pd.DataFrame, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(2, 2, figsize=(10, 8))
    resid = table["feh"] - table["feh_label"]
    flag = table["out_of_range"].astype(bool)
    for ax, col, name in zip(axes.ravel(), ["feh_label", "period", "n_epochs", "mean_mag"],
                             ["[Fe/H] label (dex)", "period (d)", "clean G epochs", "mean G (mag)"]):
        ax.scatter(table.loc[~flag, col], resid[~flag], s=8, label="unflagged")
        ax.scatter(table.loc[flag, col], resid[flag], s=8, marker="x", label="out_of_range")
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xlabel(name)
        ax.set_ylabel("model - label (dex)")
    axes[0, 0].legend()
    fig.tight_layout()
    paths = [out / "residuals.png"]
    fig.savefig(paths[0], dpi=100)
    plt.close(fig)
    from rrlfeh.model.plots import reliability  # the train stage's figure, for real stars

    paths.append(reliability({"real scoring half": (resid / table["feh_error"]).to_numpy()},
                             out / "reliability.png"))
    return [str(p) for p in paths]


def score(table: pd.DataFrame) -> dict:
    from rrlfeh.evaluation.scores import summary

    scored = table[np.isfinite(table["feh"])]
    ok = scored[~scored["out_of_range"].astype(bool)]
    bad = scored[scored["out_of_range"].astype(bool)]
    both = scored[np.isfinite(scored["baseline"])]
    return {
        "stars_in": int(len(table)), "scored": int(len(scored)), "unflagged": int(len(ok)),
        "flagged": int(len(bad)), "rejected": int(len(table) - len(scored)),
        "flagged_or_rejected_fraction": round(1 - len(ok) / max(len(table), 1), 4),
        "all_scored": summary(scored["feh"], scored["feh_label"], scored["feh_error"]),
        "unflagged_stars": summary(ok["feh"], ok["feh_label"], ok["feh_error"]),
        "flagged_stars": summary(bad["feh"], bad["feh_label"], bad["feh_error"]),
        "baseline_on_unflagged": summary(ok["baseline"], ok["feh_label"]),
        "baseline_cv_on_unflagged": summary(ok["baseline_cv"], ok["feh_label"]),
        "model_on_baseline_stars": summary(both["feh"], both["feh_label"]),
        "baseline_on_baseline_stars": summary(both["baseline"], both["feh_label"]),
        "reasons_rejected": table.loc[~np.isfinite(table["feh"]), "reason"].value_counts().to_dict(),
        "reasons_flagged": bad["out_of_range_reason"].str.split(",").explode().value_counts().to_dict(),
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="models:/rrl-feh@champion")
    ap.add_argument("--models-dir", type=Path, help="fold models written by `rrlfeh train` (logged to a private store)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--plots", type=Path)
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "rrlfeh-real-stars")
    ap.add_argument("--exclude-tuned", action="store_true",
                    help="drop the stars the model was fine-tuned on instead of refusing")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(json.dumps({"skipped": f"{args.data} not found: no real stars to score"}))
        return

    from rrlfeh.config import load_params
    from rrlfeh.runtime import configure_environment, use_keras_backend

    configure_environment()
    use_keras_backend("tensorflow")
    from rrlfeh.evaluation.curve_stats import shape_parameters
    from rrlfeh.evaluation.real_data import read_real
    from rrlfeh.evaluation.scores import baseline_cv, baseline_predict, fit_baseline
    from rrlfeh.evaluation.split import half_of
    from rrlfeh.serving.predict import run_predict

    args.workdir.mkdir(parents=True, exist_ok=True)
    model = args.model
    if args.models_dir is not None:
        sys.path.insert(0, str(ROOT / "bench"))
        from predict import trained_model

        model = trained_model(args.workdir, args.models_dir)
    out = args.workdir / "catalogue.parquet"
    counts = run_predict(load_params(ROOT / "params.yaml").predict, model, [args.data], out,
                         "local", progress=False)
    cat = pd.read_parquet(out)
    rejects = pd.read_parquet(args.workdir / "catalogue_rejected.parquet")
    stars, curves = read_real(args.data)
    shape = shape_parameters(curves)
    stars = stars.assign(half=half_of(stars["source_id"]), mean_mag=shape["mean_mag"].to_numpy())
    cal = (stars["half"] == "calibration").to_numpy()
    coef = fit_baseline(shape[cal], stars["feh"].to_numpy()[cal])
    stars["baseline"] = baseline_predict(shape, coef)
    stars["baseline_cv"] = baseline_cv(shape, stars["feh"].to_numpy())
    stars.loc[shape["phi31_error"].to_numpy() >= 0.3, ["baseline", "baseline_cv"]] = np.nan

    table = stars[["source_id", "half", "feh", "mean_mag", "baseline", "baseline_cv"]].rename(
        columns={"feh": "feh_label"}).merge(
        cat.drop(columns=["feh_label", "feh_label_error"], errors="ignore"), on="source_id", how="left")
    table = table.merge(rejects[["source_id", "reason"]], on="source_id", how="left")
    table["out_of_range"] = table["out_of_range"].fillna(False)

    tuned, config = model_info(model)
    overlap = np.isin(table["source_id"], tuned)
    report: dict = {"model": counts["model"], "data": str(args.data),
                    "baseline_coefficients_calibration_half": [round(float(c), 4) for c in coef],
                    "predict_counts": {k: counts[k] for k in ("stars_in", "predicted", "rejected")
                                       if k in counts}}
    if overlap.any():
        if not args.exclude_tuned:
            sys.exit(f"error: the model was fine-tuned on {int(overlap.sum())} of these stars; "
                     "scoring them would flatter it (use --exclude-tuned to drop them)")
        report["excluded_tuned_stars"] = int(overlap.sum())
        table = table[~overlap]
    report["halves"] = {h: score(table[table["half"] == h]) for h in ("calibration", "scoring")}
    cal = table[(table["half"] == "calibration") & np.isfinite(table["feh"])]
    extra_now = float(config.get("extra_error", 0.0))
    extra_oor_now = config.get("extra_error_out_of_range")
    extra_oor_now = extra_now if extra_oor_now is None else float(extra_oor_now)
    cal_flag = cal["out_of_range"].astype(bool).to_numpy()
    resid, err = (cal["feh"] - cal["feh_label"]).to_numpy(), cal["feh_error"].to_numpy()
    report["extra_error"] = {
        "model": extra_now, "model_out_of_range": extra_oor_now,
        # what the simulation-to-real terms should be for 68% coverage, from the calibration half
        # alone: one term for every star, or predict.extra_error for the unflagged and
        # predict.extra_error_out_of_range for the flagged (their residuals are 4-5x larger)
        "for_68pct_on_calibration_half": extra_error_for(
            resid, err, np.where(cal_flag, extra_oor_now, extra_now)),
        "for_68pct_unflagged_calibration": extra_error_for(resid[~cal_flag], err[~cal_flag], extra_now),
        "for_68pct_flagged_calibration": extra_error_for(resid[cal_flag], err[cal_flag], extra_oor_now)}
    report["all_stars"] = score(table)
    if args.plots is not None:
        report["plots"] = plots(table[table["half"] == "scoring"], args.plots)
    text = json.dumps(report, indent=1, default=str)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
