"""Write one half of a labelled real-star folder as its own folder in archive layout.

    python -m bench.real_half calibration /tmp/real_calibration [--data ../shared/data/gaia_dr3_rrab_labelled]

The halves are `rrlfeh.evaluation.split`'s (md5 of the source_id). The output is what the `files`
source reads (vari_rrlyrae.csv, epoch_photometry.csv, labels.csv) for fine-tuning on the calibration
half (docs/REAL_STARS.md); the scoring half stays for `bench/real_stars.py`. Write it outside the
project: the real data are never copied into it. Prints one JSON line (stars and rows written).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from rrlfeh.evaluation.split import HALVES, half_of

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "gaia_dr3_rrab_labelled"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("half", choices=HALVES)
    ap.add_argument("out", type=Path)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args(argv)
    if args.out.resolve().is_relative_to(ROOT):
        ap.error(f"{args.out}: write it outside the project ({ROOT})")
    args.out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name in ("vari_rrlyrae", "labels", "epoch_photometry"):
        src = args.data / f"{name}.csv"
        if not src.exists():
            continue
        # ids as text: the CSVs' 19-digit ids must not pass through float64
        df = pd.read_csv(src, dtype={"source_id": "int64"}, keep_default_na=True)
        keep = half_of(df["source_id"].to_numpy()) == args.half
        df[keep].to_csv(args.out / f"{name}.csv", index=False)
        counts[name] = {"rows": int(keep.sum()), "stars": int(df.loc[keep, "source_id"].nunique())}
    print(json.dumps({"half": args.half, "data": str(args.data), "out": str(args.out), **counts}))


if __name__ == "__main__":
    main()
