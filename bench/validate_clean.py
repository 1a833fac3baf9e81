"""Cost of the `validate` and `clean` stages (Great Expectations overhead included) against table size.

    python -m bench.validate_clean [--stars 5000] [--workdir /tmp/rrlfeh-bench-clean]
    python -m bench.validate_clean --raw data/raw       # any folder of raw tables instead

Writes synthetic raw tables in the Gaia DR3 layouts (N stars, 65% RRab / 34% RRc / 1% RRd; G epochs
lognormal with median 45 clipped to [12, 260], as many BP and RP rows; 2% flagged transits; labels
for every star), the epoch table block by block so that paper-scale sets fit in memory; a folder
already written for N is reused. Values are plausible but carry no light-curve shape: only sizes
matter here. Then runs run_validate and run_clean, each in a fresh process, and prints one JSON
object with the rows, the wall time of each stage function, and each process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from rrlfeh.core import schema

BLOCK = 10_000  # stars whose epoch rows are drawn and written at once


def synthetic_stars(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """vari_rrlyrae, labels, and each star's number of G epochs."""
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
    labels = pd.DataFrame({"source_id": ids, "feh": rng.normal(-1.5, 0.45, n),
                           "feh_error": rng.uniform(0.3, 0.42, n)})
    return vari, labels, n_g


def synthetic_epochs(ids: np.ndarray, n_g: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """The G, BP and RP rows of some stars, star after star."""
    per_star = 3 * n_g
    rows = int(per_star.sum())
    sid = np.repeat(ids, per_star)
    start = np.repeat(np.cumsum(per_star) - per_star, per_star)
    k = np.arange(rows) - start
    band = np.where(k < np.repeat(n_g, per_star), "G", np.where(k % 2 == 0, "BP", "RP"))
    mag = rng.normal(17, 0.3, rows)
    return pd.DataFrame({
        "source_id": sid, "transit_id": k.astype(np.int64) * 1000 + 17, "band": band,
        "time": rng.uniform(1666.5, 2704, rows), "mag": mag,
        "flux": 10 ** (-0.4 * (mag - 25.7)), "flux_error": rng.uniform(10, 100, rows),
        "flux_over_error": rng.uniform(50, 500, rows), "rejected_by_photometry": False,
        "rejected_by_variability": rng.random(rows) < 0.02, "other_flags": 0,
        "solution_id": 375316653866487564,
    })


def write_synthetic_raw(n: int, folder: Path, seed: int = 0) -> None:
    vari, labels, n_g = synthetic_stars(n, np.random.default_rng(seed))
    ids = vari["source_id"].to_numpy()
    with schema.TableWriter(folder / "epoch_photometry.parquet", "epoch_photometry") as out:
        for block, lo in enumerate(range(0, n, BLOCK)):
            rng = np.random.default_rng([seed, block])
            out.write(synthetic_epochs(ids[lo:lo + BLOCK], n_g[lo:lo + BLOCK], rng))
    schema.write_table(labels, folder / "labels.parquet", "labels")
    schema.write_table(vari, folder / "vari_rrlyrae.parquet", "vari_rrlyrae")  # last: marks done


def run_stage(stage: str, raw: Path, work: Path) -> dict:
    """One stage function in this process (called in a fresh interpreter by main)."""
    from rrlfeh.config.data import CleanConfig, ValidateConfig
    from rrlfeh.quality import validate
    from rrlfeh.errors import ValidationFailed

    t0 = time.perf_counter()
    out = {}
    try:
        if stage == "validate":
            validate.run_validate(ValidateConfig(), raw, work / "reports" / "validation")
        else:
            from rrlfeh.quality.clean import run_clean

            m = run_clean(CleanConfig(), ValidateConfig(), raw, work / "clean",
                          work / "metrics" / "clean.json", work / "plots",
                          report_dir=work / "reports" / "clean")
            out["kept"] = m["stars"]["kept"]
    except ValidationFailed as exc:  # the suites still ran in full: the time is the stage's
        out["failed"] = str(exc)[:300]
    return {"seconds": round(time.perf_counter() - t0, 2),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "stars_per_chunk": getattr(validate, "STARS_PER_CHUNK", None), **out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stars", type=int, default=5000)
    ap.add_argument("--raw", type=Path, help="a folder of raw tables to use instead of synthetic ones")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/rrlfeh-bench-clean"))
    ap.add_argument("--stage", choices=["validate", "clean"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = args.workdir / (args.raw.resolve().as_posix().strip("/").replace("/", "_") if args.raw
                           else str(args.stars))
    raw = args.raw or work / "raw"
    if args.stage:
        print(json.dumps(run_stage(args.stage, raw, work)))
        return
    if not args.raw and not (raw / "vari_rrlyrae.parquet").exists():
        write_synthetic_raw(args.stars, raw)
    result = {"raw": str(raw),
              "stars": pq.ParquetFile(raw / "vari_rrlyrae.parquet").metadata.num_rows,
              "epoch_rows": pq.ParquetFile(raw / "epoch_photometry.parquet").metadata.num_rows,
              "machine": f"{platform.machine()}, {os.cpu_count()} cores"}
    for stage in ("validate", "clean"):
        cmd = [sys.executable, __file__, "--stage", stage, "--workdir", str(args.workdir),
               *(["--raw", str(args.raw)] if args.raw else ["--stars", str(args.stars)])]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        result[stage] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
