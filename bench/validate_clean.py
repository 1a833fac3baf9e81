"""Cost of the `validate` and `clean` stages (Great Expectations overhead included) against table size.

    python bench/validate_clean.py [--stars 5000] [--workdir /tmp/rrlfeh-bench-clean]

Writes synthetic raw tables in the Gaia DR3 layouts (N stars, 65% RRab / 34% RRc / 1% RRd; G epochs
lognormal with median 45 clipped to [12, 260], as many BP and RP rows; 2% flagged transits; labels
for every star). Values are plausible but carry no light-curve shape: only sizes matter here. Then
runs run_validate and run_clean, each in a fresh process, and prints one JSON object with the rows,
the wall time of each stage function, and each process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rrlfeh.data import schema


def synthetic_raw(n: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(np.arange(10**15, 10**15 + 50 * n), n, replace=False)).astype(np.int64)
    cls = rng.choice(["RRab", "RRc", "RRd"], n, p=[0.65, 0.34, 0.01])
    pf = np.where(cls != "RRc", rng.uniform(0.42, 0.9, n), np.nan)
    p1 = np.where(cls != "RRab", rng.uniform(0.22, 0.45, n), np.nan)
    vari = pd.DataFrame({
        "source_id": ids, "ra": rng.uniform(0, 360, n), "dec": rng.uniform(-90, 90, n),
        "pf": pf, "p1_o": p1, "epoch_g": rng.uniform(1700, 1710, n),
        "peak_to_peak_g": rng.uniform(0.2, 1.3, n), "num_clean_epochs_g": 0.0,
        "phi31_g": rng.uniform(1, 3, n), "phi31_g_error": rng.uniform(0.01, 0.4, n),
        "best_classification": cls, "int_average_g": rng.uniform(13, 20, n),
    })
    n_g = np.clip(np.round(rng.lognormal(np.log(45), 0.35, n)), 12, 260).astype(int)
    per_star = 3 * n_g
    rows = int(per_star.sum())
    sid = np.repeat(ids, per_star)
    start = np.repeat(np.cumsum(per_star) - per_star, per_star)
    k = np.arange(rows) - start
    band = np.where(k < np.repeat(n_g, per_star), "G", np.where(k % 2 == 0, "BP", "RP"))
    mag = rng.normal(17, 0.3, rows)
    epochs = pd.DataFrame({
        "source_id": sid, "transit_id": k.astype(np.int64) * 1000 + 17, "band": band,
        "time": rng.uniform(1666.5, 2704, rows), "mag": mag,
        "flux": 10 ** (-0.4 * (mag - 25.7)), "flux_error": rng.uniform(10, 100, rows),
        "flux_over_error": rng.uniform(50, 500, rows), "rejected_by_photometry": False,
        "rejected_by_variability": rng.random(rows) < 0.02, "other_flags": 0,
        "solution_id": 375316653866487564,
    })
    labels = pd.DataFrame({"source_id": ids, "feh": rng.normal(-1.5, 0.45, n),
                           "feh_error": rng.uniform(0.3, 0.42, n)})
    return {"vari_rrlyrae": vari, "epoch_photometry": epochs, "labels": labels}


def run_stage(stage: str, work: Path) -> dict:
    """One stage function in this process (called in a fresh interpreter by main)."""
    from rrlfeh.config.data import CleanConfig, ValidateConfig

    t0 = time.perf_counter()
    if stage == "validate":
        from rrlfeh.data.validate import run_validate

        run_validate(ValidateConfig(), work / "raw", work / "reports" / "validation")
    else:
        from rrlfeh.data.clean import run_clean

        m = run_clean(CleanConfig(), ValidateConfig(), work / "raw", work / "clean",
                      work / "metrics" / "clean.json", work / "plots", report_dir=work / "reports" / "clean")
    out = {"seconds": round(time.perf_counter() - t0, 2),
           "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    if stage == "clean":
        out["kept"] = m["stars"]["kept"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stars", type=int, default=5000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/rrlfeh-bench-clean"))
    ap.add_argument("--stage", choices=["validate", "clean"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = args.workdir / str(args.stars)
    if args.stage:
        print(json.dumps(run_stage(args.stage, work)))
        return
    tables = synthetic_raw(args.stars)
    for name, df in tables.items():
        schema.write_table(df, work / "raw" / f"{name}.parquet", name)
    result = {"stars": args.stars, "epoch_rows": len(tables["epoch_photometry"]),
              "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores"}
    del tables
    for stage in ("validate", "clean"):
        proc = subprocess.run([sys.executable, __file__, "--stars", str(args.stars), "--workdir",
                               str(args.workdir), "--stage", stage],
                              capture_output=True, text=True, check=True)
        result[stage] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
