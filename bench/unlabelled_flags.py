"""A registered model on the 9,281 unlabelled real DR3 RR Lyrae (issue 21): how many it estimates,
flags out_of_range and rejects, split by bench.real_classes (RRab with a clean fold / the rest).

Runs `rrlfeh predict`'s own code (serving.predict.run_predict) on ../shared/data/
gaia_dr3_rrl_unlabelled (never copied into the project) and joins its catalogue and rejects with
the classes; every star is accounted for (estimated + rejected = stars in). Prints JSON.

    python -m bench.unlabelled_flags [--model models:/rrl-feh@champion] [--real DIR]   # ~2 min
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
DEFAULT_REAL = ROOT.parent / "shared" / "data" / "gaia_dr3_rrl_unlabelled"


def shares(table: pd.DataFrame) -> dict:
    """Counts and shares of estimated (unflagged / flagged) and rejected stars, with the reasons."""
    n = len(table)
    est = table["estimated"]
    flagged = est & table["out_of_range"]
    return {
        "stars": int(n), "unflagged": int((est & ~table["out_of_range"]).sum()), "flagged": int(flagged.sum()),
        "rejected": int((~est).sum()),
        "flagged_share_of_estimated": round(float(flagged.sum() / max(est.sum(), 1)), 4),
        "flagged_or_rejected_share": round(float((flagged | ~est).sum() / max(n, 1)), 4),
        "flag_reasons": table.loc[flagged, "out_of_range_reason"].str.split(",").explode().value_counts().to_dict(),
        "reject_reasons": table.loc[~est, "reason_rejected"].value_counts().to_dict(),
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="models:/rrl-feh@champion")
    ap.add_argument("--real", type=Path, default=DEFAULT_REAL)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "rrlfeh-unlabelled")
    args = ap.parse_args(argv)
    if not args.real.is_dir():
        print(json.dumps({"skipped": f"{args.real} not found: not measured"}))
        return

    from bench.real_classes import classes_of, predict_options
    from bench.real_stars import predict_folder, serving_runtime
    from rrlfeh.config import load_params

    serving_runtime()
    args.workdir.mkdir(parents=True, exist_ok=True)
    counts, cat, rejects = predict_folder(args.model, args.real, args.workdir)
    cat = cat[["source_id", "out_of_range", "out_of_range_reason"]]
    rejects = rejects[["source_id", "reason"]]
    params = load_params(ROOT / "params.yaml")
    vari = pd.read_csv(args.real / "vari_rrlyrae.csv", usecols=["source_id"])
    table = vari.merge(cat, on="source_id", how="left").merge(
        rejects.rename(columns={"reason": "reason_rejected"}), on="source_id", how="left")
    table["estimated"] = table["out_of_range"].notna()
    table["out_of_range"] = table["out_of_range"].fillna(False).astype(bool)
    classes = classes_of(args.real, predict_options(params))[["source_id", "class"]]
    table = table.merge(classes, on="source_id", how="left")
    table["class"] = table["class"].fillna("no_clean_g_epochs")
    unaccounted = int((~table["estimated"] & table["reason_rejected"].isna()).sum())
    report = {"model": counts["model"], "data": str(args.real),
              "predict_counts": {k: counts[k] for k in ("stars_in", "predicted", "rejected") if k in counts},
              "unaccounted": unaccounted, "all": shares(table),
              "rrab_clean": shares(table[table["class"] == "rrab_clean"]),
              "other": shares(table[table["class"] != "rrab_clean"]),
              "by_class": {c: shares(g) for c, g in table.groupby("class")}}
    json.dump(report, sys.stdout, indent=1, default=str)
    print()
    if unaccounted:
        sys.exit(f"error: {unaccounted} stars neither estimated nor rejected")


if __name__ == "__main__":
    main()
