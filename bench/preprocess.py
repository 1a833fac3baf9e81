"""Benchmark of the preprocess stage's streaming path (Parquet -> tensors) on simulated curves.

    python -m bench.preprocess [--n 100000] [--n-jobs 0] [--epoch-scale 1] [--baseline-n 200]

Simulates N RR Lyrae light curves (Fourier series with the SIMULATOR.md RRab/RRc relations, Gaia
DR3-like sampling: lognormal epoch counts, median 45 x scale, clipped to [12, 260] x scale, Gaia G
noise, 2% flagged transits), writes them as an epoch_photometry Parquet file, and times
iter_parquet_stars + preprocess_batches exactly as `rrlfeh preprocess` runs them. The
straightforward approach (a per-star pandas frame + scipy make_smoothing_spline with its default
GCV) runs on a subset for the ratio. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rrlfeh.config.preprocess import PreprocessConfig
from rrlfeh.core.epoch_stream import iter_parquet_stars
from rrlfeh.features.batch import preprocess_batches
from rrlfeh.runtime import resolve_jobs
from rrlfeh.features.tensors import phase_grid

SPAN = (1666.4, 2704.4)  # Gaia DR3, BJD(TCB) - 2455197.5


def fourier_parameters(n: int, rng: np.random.Generator, frac_rrab: float = 0.65) -> pd.DataFrame:
    """Period, amplitudes A_k and phases phi_k (k = 1..6) of the cosine series, per star."""
    rrab = rng.random(n) < frac_rrab
    feh = np.clip(rng.normal(-1.55, 0.45, n), -2.8, 0.2)
    x = feh + 1.5
    p_ab = np.clip(0.585 - 0.08 * x + rng.normal(0, 0.07, n), 0.40, 0.95)
    p_c = np.clip(0.325 - 0.05 * x + rng.normal(0, 0.03, n), 0.2, 0.45)
    period = np.where(rrab, p_ab, p_c)
    a1 = np.where(
        rrab,
        np.clip(0.27 - 0.56 * (p_ab - 0.6) - 0.06 * x + rng.normal(0, 0.05, n), 0.05, 0.5),
        np.clip(rng.normal(0.19, 0.035, n), 0.05, 0.35),
    )
    r21_c = np.clip(0.2 - (feh + 1.737 + 9.968 * (p_c - 0.3)) / 5.041, 0.02, 0.4)
    r21 = np.where(rrab, 0.460 + 0.306 * (a1 - 0.26) + rng.normal(0, 0.04, n), r21_c)
    r31 = np.where(rrab, 0.300 + 0.556 * (a1 - 0.26) + rng.normal(0, 0.04, n),
                   rng.normal(0.08, 0.035, n))
    r31 = np.clip(r31, 0.0, None)
    higher = np.where(rrab[:, None], [0.60, 0.36, 0.21], [0.4, 0.16, 0.064])
    ratios = np.column_stack([np.ones(n), np.clip(r21, 0, None), r31, r31[:, None] * higher])
    phi31 = np.where(rrab, 2.343 + 6.25 * (p_ab - 0.6) + 1.174 * x,
                     3.1 + 0.4 * x + rng.normal(0, 0.4, n))
    phi21 = np.where(rrab, 3.236 + 0.392 * phi31 + rng.normal(0, 0.1, n),
                     rng.normal(4.7, 0.4, n))
    d = phi31 + 2 * np.pi - phi21
    phik1 = np.column_stack([np.zeros(n), phi21, phi31] + [phi21 + j * d for j in (2, 3, 4)])
    phi1 = rng.uniform(0, 2 * np.pi, n)
    k = np.arange(1, 7)
    return pd.DataFrame({
        "type": np.where(rrab, "RRab", "RRc"), "feh": feh, "period": period,
        "g0": np.clip(rng.normal(17.0, 1.2, n), 13, 20),
        **{f"a{j}": a1 * ratios[:, j - 1] for j in k},
        **{f"phi{j}": phik1[:, j - 1] + j * phi1 for j in k},
    })


def noise_free(params: pd.DataFrame, phase_since_t0: np.ndarray) -> np.ndarray:
    """Magnitudes (n, m) at phases measured from T0 (phase_since_t0 (n, m) or (m,))."""
    out = np.broadcast_to(params["g0"].to_numpy()[:, None], (len(params),) + phase_since_t0.shape[-1:]).copy()
    for j in range(1, 7):
        a, ph = params[f"a{j}"].to_numpy()[:, None], params[f"phi{j}"].to_numpy()[:, None]
        out += a * np.cos(2 * np.pi * j * phase_since_t0 + ph)
    return out


def maximum_phase(params: pd.DataFrame, block: int = 512) -> np.ndarray:
    """Phase (from T0) of maximum light = minimum magnitude, on a 4096-point grid."""
    grid = np.arange(4096) / 4096
    return np.concatenate([
        grid[np.argmin(noise_free(params.iloc[i:i + block], grid), axis=1)]
        for i in range(0, len(params), block)
    ])


def simulate(n: int, seed: int, epoch_scale: float = 1.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(stars: source_id, type, period, epoch_g, feh, Fourier params; epoch_photometry rows)."""
    rng = np.random.default_rng(seed)
    stars = fourier_parameters(n, rng)
    stars.insert(0, "source_id", np.arange(n, dtype=np.int64) * 1000 + 17)
    t0 = rng.uniform(*SPAN, n)
    stars["t0"] = t0
    stars["epoch_g"] = t0 + maximum_phase(stars) * stars["period"].to_numpy()
    n_ep = np.clip(np.round(rng.lognormal(np.log(45 * epoch_scale), 0.35, n)),
                   12 * epoch_scale, 260 * epoch_scale).astype(np.int64)
    star = np.repeat(np.arange(n), n_ep)
    span = (SPAN[1] - SPAN[0]) * epoch_scale  # DR4-like: twice the epochs over twice the time
    # Gaia scanning: visits of 1-4 spins 0.25 d apart, one or two FoV transits 0.074 d apart
    n_visits = np.maximum(1, n_ep // 3)
    visit_time = SPAN[0] + span * rng.random((n, int(n_visits.max())))
    visit = (rng.random(len(star)) * n_visits[star]).astype(np.int64)
    t = (visit_time[star, visit] + 0.25 * rng.integers(0, 4, len(star))
         + 0.0740 * rng.integers(0, 2, len(star)) + rng.normal(0, 1e-3, len(star)))
    p = stars.iloc[star]
    mag = noise_free(p, ((t - t0[star]) / p["period"].to_numpy())[:, None])[:, 0]
    z = 10 ** (0.4 * (np.maximum(mag, 12) - 15))
    sigma = 2 * 1.2e-3 * np.sqrt(0.04895 * z**2 + 1.8633 * z + 0.0001985) + 0.003
    epochs = pd.DataFrame({
        "source_id": stars["source_id"].to_numpy()[star], "band": "G", "time": t,
        "mag": mag + rng.normal(0, 1, len(star)) * sigma,
        "rejected_by_variability": rng.random(len(star)) < 0.02,
    })
    return stars, epochs


def straightforward(epochs: pd.DataFrame, stars: pd.DataFrame, n_points: int) -> np.ndarray:
    """The obvious per-star loop: pandas frame, fold, sort, scipy GCV smoothing spline."""
    from scipy.interpolate import make_smoothing_spline

    grid = phase_grid(n_points)
    out = []
    for row in stars.itertuples():
        lc = epochs[(epochs["source_id"] == row.source_id) & ~epochs["rejected_by_variability"]]
        lc = lc.assign(phase=((lc["time"] - row.epoch_g) / row.period) % 1.0)
        lc = lc.dropna(subset=["mag"]).sort_values("phase").drop_duplicates("phase")
        y = make_smoothing_spline(lc["phase"].to_numpy(), lc["mag"].to_numpy())(grid)
        out.append((y - y.mean()) / y.std())
    return np.array(out)


def _cpu_seconds() -> np.ndarray:
    """User + system CPU seconds of (this process, its finished children: the workers)."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return np.array([u.ru_utime + u.ru_stime for u in usage])


class WorkerPeak(threading.Thread):
    """Largest peak RSS (VmHWM, reset at exec) seen among this process's children, polled."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak_kib, self.done = 0, threading.Event()

    def run(self):
        while not self.done.wait(0.1):
            for pid in _children():
                self.peak_kib = max(self.peak_kib, _vm_hwm_kib(pid))


def _vm_hwm_kib(pid: str) -> int:
    """Peak resident set of a process (Linux). Unlike ru_maxrss it restarts at exec, so a child
    started by fork + exec does not inherit its parent's peak."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in text.splitlines() if line.startswith("VmHWM:")), 0)


def _children() -> list[str]:
    """Pids of the pool's workers (after their exec: a fork not yet exec'd shows our cmdline)."""
    pids = []
    for task in Path("/proc/self/task").glob("*/children"):
        pids += task.read_text().split()
    workers = []
    for pid in pids:
        try:
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                workers.append(pid)
        except OSError:
            continue
    return workers


def measure(folder: Path, n_jobs: int, chunk_stars: int) -> dict:
    """The timed part, in a fresh process so its peak RSS is the stage's, not the simulator's."""
    cfg = PreprocessConfig(chunk_stars=chunk_stars, n_jobs=n_jobs)
    stars = pd.read_parquet(folder / "stars.parquet")
    cpu0 = _cpu_seconds()
    watcher = WorkerPeak()
    watcher.start()
    t0 = time.perf_counter()
    res, counts = preprocess_batches(
        iter_parquet_stars(folder / "epoch_photometry.parquet", cfg.chunk_stars),
        stars["source_id"].to_numpy(), stars["period"].to_numpy(), stars["epoch_g"].to_numpy(),
        cfg.curve_options("rrab"), n_jobs=cfg.n_jobs,
    )
    elapsed = time.perf_counter() - t0
    watcher.done.set()
    cpu = _cpu_seconds() - cpu0
    return {
        "seconds": round(elapsed, 2), "cpu_seconds_parent": round(cpu[0], 2),
        "cpu_seconds_workers": round(cpu[1], 2), "curves_per_cpu_s": round(len(stars) / cpu.sum(), 1),
        "load_average_1min": round(os.getloadavg()[0], 2), "median_epochs": float(np.median(res.n_epochs)),
        "ok": int(res.ok.sum()),
        "rejected": pd.Series(res.reason[~res.ok]).value_counts().to_dict(), "counts": counts,
        # the output tensor alone is n x 264 x 2 float32
        "peak_rss_parent_mib": round(_vm_hwm_kib("self") / 1024, 1),
        "peak_rss_worker_mib": round(watcher.peak_kib / 1024, 1),
        "output_tensor_mib": round(res.X.nbytes / 2**20, 1),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--n-jobs", type=int, default=0)
    ap.add_argument("--chunk-stars", type=int, default=PreprocessConfig.chunk_stars)
    ap.add_argument("--epoch-scale", type=float, default=1.0, help="2 = DR4-like epoch counts")
    ap.add_argument("--baseline-n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: the child run
    args = ap.parse_args(argv)
    jobs = resolve_jobs(args.n_jobs)
    if args.measure:
        print(json.dumps(measure(args.measure, jobs, args.chunk_stars)))
        return {}

    stars, epochs = simulate(args.n, args.seed, args.epoch_scale)
    with tempfile.TemporaryDirectory() as tmp:
        epochs.to_parquet(Path(tmp) / "epoch_photometry.parquet", index=False, row_group_size=500_000)
        stars[["source_id", "period", "epoch_g"]].to_parquet(Path(tmp) / "stars.parquet")
        # run as `python -c` (like the `rrlfeh` entry point, a light __main__) so the spawned
        # workers do not re-import this module with the simulator
        child = subprocess.run(
            [sys.executable, "-c", "import sys; from bench.preprocess import main; main(sys.argv[1:])",
             "--measure", tmp, "--n-jobs", str(jobs), "--chunk-stars", str(args.chunk_stars)],
            check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
        )
    timed = json.loads(child.stdout.strip().splitlines()[-1])
    sub = stars.iloc[: args.baseline_n]
    t1 = time.perf_counter()
    straightforward(epochs[epochs["source_id"].isin(sub["source_id"])], sub, PreprocessConfig.n_points_rrab)
    base_rate = len(sub) / (time.perf_counter() - t1)
    rate = args.n / timed["seconds"]
    report = {
        "n_curves": args.n, "epoch_scale": args.epoch_scale, "n_jobs": jobs,
        "chunk_stars": args.chunk_stars, **timed,
        "curves_per_s": round(rate, 1), "curves_per_s_per_core": round(rate / jobs, 1),
        "straightforward_n": len(sub), "straightforward_curves_per_s": round(base_rate, 2),
        "speedup_vs_straightforward": round(rate / base_rate, 1),
        "machine": f"{platform.machine()}, {resolve_jobs(0)} cores, Python {sys.version.split()[0]}",
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
