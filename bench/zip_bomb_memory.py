"""Peak memory of `rrlfeh predict` with and without a zip bomb among the per-source files.

    python -m bench.zip_bomb_memory --model MODEL [--bomb-mb 200] [--workdir /tmp/rrlfeh-bench-bomb]

Writes 40 tiny simulated stars (tests/support/model_fixture.py) as vari_rrlyrae.csv and the
archive's zip of per-source CSV files, and a copy of that zip with one more member that inflates
to --bomb-mb MB of blanks (a ~200 kB file). Runs `rrlfeh predict` on each in a fresh process with
predict.n_jobs 1 (the model in the main process) and prints the main process's peak RSS
(resource.getrusage, ru_maxrss) of both runs, their difference, and the bomb's reject reason.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
RUN = """
import resource, sys
sys.argv = ["rrlfeh"] + sys.argv[1:]
from rrlfeh.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def write_inputs(work: Path, bomb_mb: int) -> tuple[Path, Path, int]:
    from tests.support.model_fixture import simulate

    data = simulate(20, seed=3)
    plain, bomb = work / "plain", work / "bomb"
    sid = 999_000_000_000_000_001
    for d in (plain, bomb):
        d.mkdir(parents=True, exist_ok=True)
        data["vari_rrlyrae"].to_csv(d / "vari_rrlyrae.csv", index=False)
        with zipfile.ZipFile(d / "datalink.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for s, rows in data["epoch_photometry"].groupby("source_id"):
                zf.writestr(f"EPOCH_PHOTOMETRY-Gaia DR3 {s}.csv", rows.to_csv(index=False))
            if d == bomb:
                with zf.open(f"EPOCH_PHOTOMETRY-Gaia DR3 {sid}.csv", "w", force_zip64=True) as fh:
                    fh.write(b"source_id,transit_id,band,time,mag,rejected_by_variability\n")
                    for _ in range(bomb_mb):
                        fh.write(b" " * 2**20)
    return plain, bomb, sid


def run(inputs: Path, model: str, params: Path, out: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", RUN, "predict", "--input", str(inputs), "--output",
                           str(out), "--model", model, "--params", str(params), "--no-progress"],
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    rss = next(int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("MAXRSS_KB"))
    return {"peak_rss_mb": round(rss / 1024, 1), "counts": json.loads(proc.stdout)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--bomb-mb", type=int, default=200)
    ap.add_argument("--workdir", default="/tmp/rrlfeh-bench-bomb")
    a = ap.parse_args()
    work = Path(a.workdir)
    plain, bomb, sid = write_inputs(work, a.bomb_mb)
    params = work / "params.yaml"
    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    p["predict"]["n_jobs"] = 1
    params.write_text(yaml.safe_dump(p))
    base = run(plain, a.model, params, work / "plain.parquet")
    hit = run(bomb, a.model, params, work / "bomb.parquet")
    rej = pd.read_parquet(work / "bomb_rejected.parquet").set_index("source_id")
    print(json.dumps({
        "bomb_member_mb": a.bomb_mb, "zip_kb": round((bomb / "datalink.zip").stat().st_size / 1024),
        "peak_rss_mb_without": base["peak_rss_mb"], "peak_rss_mb_with_bomb": hit["peak_rss_mb"],
        "difference_mb": round(hit["peak_rss_mb"] - base["peak_rss_mb"], 1),
        "bomb_reason": f"{rej.loc[sid, 'reason']}: {rej.loc[sid, 'detail']}",
        "stars_predicted": [base["counts"]["stars_predicted"], hit["counts"]["stars_predicted"]],
    }, indent=1))


if __name__ == "__main__":
    main()
