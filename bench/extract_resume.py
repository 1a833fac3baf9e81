"""How much a killed `rrlfeh extract` from files saves by resuming (core/epoch_parts.py).

    python -m bench.extract_resume [--preset default|paper] [--kill-at 0.5] [--work DIR]

Writes the simulated catalogue of `--preset` as a user's download (vari_rrlyrae.csv and one
archive-style zip of per-source CSV files), then times three `rrlfeh extract` runs on it: one
uninterrupted; one killed (SIGKILL) after `--kill-at` of that time; its rerun, which replays the
parts read before the kill. Checks the resumed outputs equal the uninterrupted ones and prints one
JSON object (sizes, seconds, parts replayed, the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import yaml

from rrlfeh.config import load_params
from rrlfeh.core import schema
from rrlfeh.sim.simulate import simulate_tables

ROOT = Path(__file__).resolve().parents[1]


def write_input(root: Path, preset: str) -> dict:
    params = load_params(ROOT / "params.yaml")
    cfg = params.extract.simulate
    if preset != cfg.preset:
        data = yaml.safe_load((ROOT / "params.yaml").read_text())
        data["extract"]["simulate"]["preset"] = preset
        (root / "sim.yaml").write_text(yaml.safe_dump(data))
        cfg = load_params(root / "sim.yaml").extract.simulate
    tables = simulate_tables(cfg, seed=params.seed)
    tables["vari_rrlyrae"].to_csv(root / "vari_rrlyrae.csv", index=False)
    epochs = tables["epoch_photometry"]
    with zipfile.ZipFile(root / "datalink.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for sid, rows in epochs.groupby("source_id", sort=True):
            zf.writestr(f"EPOCH_PHOTOMETRY-Gaia DR3 {sid}.csv", rows.to_csv(index=False))
    return {"stars": int(epochs["source_id"].nunique()), "epoch_rows": int(len(epochs)),
            "zip_mb": round((root / "datalink.zip").stat().st_size / 2**20, 1)}


def params_file(run: Path, root: Path) -> Path:
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    data["extract"]["source"] = "files"
    data["extract"]["files"].update(vari_rrlyrae=str(root / "vari_rrlyrae.csv"),
                                    epoch_photometry=[str(root / "datalink.zip")])
    path = run / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def start(run: Path, root: Path) -> subprocess.Popen:
    run.mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "rrlfeh.cli", "extract", "--out", "raw", "--report", "extract.json",
         "--params", str(params_file(run, root))],
        cwd=run, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def timed(run: Path, root: Path) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = start(run, root)
    out = proc.communicate()[0]
    if proc.returncode:
        sys.exit(f"extract failed in {run}:\n{out}")
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="default", choices=["default", "paper"])
    ap.add_argument("--kill-at", type=float, default=0.5, help="fraction of the whole run's time")
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a temporary one)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="extract_resume_"))
    work.mkdir(parents=True, exist_ok=True)
    root = work / "input"
    root.mkdir(exist_ok=True)
    sizes = write_input(root, args.preset)

    t_whole, _ = timed(work / "whole", root)
    proc = start(work / "killed", root)
    time.sleep(args.kill_at * t_whole)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    parts = work / "killed" / "raw" / "_files_parts"
    n_parts = len(list(parts.glob("f*_p*.json")))
    t_resume, out = timed(work / "killed", root)
    same = all(
        schema.read_table(work / "killed" / f"raw/{t}.parquet", t).equals(
            schema.read_table(work / "whole" / f"raw/{t}.parquet", t))
        for t in ("epoch_photometry", "vari_rrlyrae", "labels"))
    replayed = [line for line in out.splitlines() if "replayed" in line]
    print(json.dumps({
        "preset": args.preset, **sizes,
        "rows_per_part": load_params(params_file(work / "whole", root)).extract.files.rows_per_part,
        "whole_run_s": round(t_whole, 1), "killed_after_s": round(args.kill_at * t_whole, 1),
        "parts_done_at_kill": n_parts, "resumed_run_s": round(t_resume, 1),
        "resume_log": replayed[0].split(": ", 1)[-1] if replayed else None,
        "outputs_identical": bool(same),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}",
    }, indent=1))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
