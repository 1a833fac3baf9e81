"""Batch inference speed: stars/s end to end (raw Gaia light curves -> [Fe/H]) through run_predict.

    python -m bench.predict [--n-stars 100000] [--model auto] [--ensemble-size 0] [--n-jobs 0]
                            [--chunk-stars 5000] [--engine local] [--workdir /tmp/rrlfeh-bench-predict]

Simulates N Gaia DR3-like RR Lyrae with the project's simulator (65% RRab, 35% RRc as in the DR3
catalogue the paper predicts, a few RRd that the model must reject; G epochs lognormal, median 45;
BP/RP rows too, as the archive delivers them) in blocks of 10,000 stars, writes vari_rrlyrae and
epoch_photometry Parquet files (cached in --workdir), then times `run_predict` on them exactly as
`rrlfeh predict --input DIR --output catalogue.parquet` runs: reading, grouping, preprocessing,
the GRU ensemble, the catalogue and rejects files.

--model:
  auto        models:/rrl-feh@champion of the project store when there is one, else `tiny`
  tiny        the test suite's tiny trained model (tests/support/model_fixture.py: n_points 32,
              8 GRU units, 2 folds), registered in a private store under --workdir
  paper-size  an UNTRAINED ensemble of the paper's size (n_points 264/265, --units GRU units,
              --folds folds per type): speed only, its [Fe/H] values mean nothing
  any other   a model URI (models:/..., runs:/..., a folder)
--models-dir DIR  instead of --model: the trained fold models of DIR/{rrab,rrc} (what `rrlfeh train`
              writes), logged and registered like `rrlfeh register` does, in a private store (no gate)
Prints one JSON object: which model, stars/s, wall time, peak RSS of the main process and of the
largest worker, and the time 270,000 stars would take at that rate.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BLOCK = 10_000
FRACTION_RRAB = 0.65  # 169,024 RRab : 89,672 RRc in the paper's DR3 application
RRD_PER_BLOCK = 20


def simulate_catalogue(n_stars: int, seed: int, out_dir: Path) -> Path:
    """vari_rrlyrae.parquet + epoch_photometry.parquet of n_stars simulated stars (cached)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rrlfeh.config import load_params
    from rrlfeh.core import schema
    from rrlfeh.sim.simulate import simulate_tables

    if (out_dir / "done").exists():
        return out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    sim_cfg = load_params(ROOT / "params.yaml").extract.simulate
    vari_parts, taken, writer = [], set(), None
    for block, lo in enumerate(range(0, n_stars, BLOCK)):
        n = min(BLOCK, n_stars - lo) - RRD_PER_BLOCK
        n_ab = int(round(n * FRACTION_RRAB))
        cfg = dataclasses.replace(sim_cfg, preset="default", n_rrab=n_ab, n_rrc=n - n_ab,
                                  n_rrd=RRD_PER_BLOCK)
        tables = simulate_tables(cfg, seed=seed * 1000 + block)
        vari, epochs = tables["vari_rrlyrae"], tables["epoch_photometry"]
        fresh = ~vari["source_id"].isin(taken)  # ids of different blocks could, rarely, collide
        vari = vari[fresh]
        epochs = epochs[epochs["source_id"].isin(vari["source_id"])]
        taken.update(vari["source_id"].tolist())
        vari_parts.append(vari)
        table = pa.Table.from_pandas(schema.conform(epochs, "epoch_photometry"), preserve_index=False)
        writer = writer or pq.ParquetWriter(out_dir / "epoch_photometry.parquet", table.schema)
        writer.write_table(table)
        print(f"simulated {lo + len(vari):,} / {n_stars:,} stars", file=sys.stderr)
    writer.close()
    schema.write_table(pd.concat(vari_parts, ignore_index=True), out_dir / "vari_rrlyrae.parquet",
                       "vari_rrlyrae")
    (out_dir / "done").write_text("ok\n")
    return out_dir


def _private_store(workdir: Path, name: str) -> None:
    import mlflow

    store = workdir / f"mlflow-{name}"
    store.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{store / 'mlflow.db'}"
    os.environ.update(MLFLOW_TRACKING_URI=uri, MLFLOW_ARTIFACT_ROOT=(store / "artifacts").as_uri())
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)


def _registered(uri: str) -> bool:
    import mlflow
    from mlflow.exceptions import MlflowException

    name, alias = uri[len("models:/"):].split("@")
    try:
        mlflow.MlflowClient().get_model_version_by_alias(name, alias)
        return True
    except MlflowException:
        return False


def tiny_model(workdir: Path) -> str:
    """The test suite's tiny trained model, registered in a private store."""
    _private_store(workdir, "tiny")
    if not _registered("models:/rrl-feh@champion"):
        from tests.support.model_fixture import build_workspace, register_tiny

        ws_dir = Path(tempfile.mkdtemp(prefix="tiny-", dir=workdir))
        register_tiny(build_workspace(ws_dir))
    return "models:/rrl-feh@champion"


def paper_size_model(workdir: Path, units: int, folds: int, seed: int) -> str:
    """An untrained GRU ensemble of the paper's size, logged like the real one (speed only)."""
    from rrlfeh.config import load_params
    from rrlfeh.model.networks import build_model

    name = f"rrl-feh-untrained-u{units}-f{folds}"
    _private_store(workdir, "paper-size")
    if _registered(f"models:/{name}@bench"):
        return f"models:/{name}@bench"
    params = load_params(ROOT / "params.yaml")
    models_dir = Path(tempfile.mkdtemp(prefix="paper-size-", dir=workdir))
    hp = {"units": units, "dropout": 0.2, "learning_rate": 0.01, "reg_type": "none",
          "reg_strength": 0.0, "batch_size": 256}
    manifests = {}
    for star_type in ("rrab", "rrc"):
        n_points = params.preprocess.n_points(star_type)
        (models_dir / star_type).mkdir()
        entries = []
        for k in range(folds):
            build_model(n_points, hp, seed + k).save(models_dir / star_type / f"fold_r0_k{k}.keras")
            entries.append({"file": f"fold_r0_k{k}.keras", "repeat": 0, "fold": k, "val_metrics": {}})
        manifests[star_type] = {
            "type": star_type, "n_points": n_points, "preprocess": dataclasses.asdict(params.preprocess),
            "hparams": hp, "folds": entries, "test_source_ids": [],
            "training_range": {"period": [0.2, 1.0], "amplitude": [0.0, 1.2], "n_epochs": [50, 256]},
            "cv_metrics": {}, "test_metrics": {}, "oracle_metrics": None, "data_md5": "untrained",
            "git_commit": "untrained", "mlflow_run_id": None, "keras_backend": "tensorflow",
        }
        (models_dir / star_type / "manifest.json").write_text(json.dumps(manifests[star_type]))
    return _register(manifests, models_dir, name)


def trained_model(workdir: Path, models_dir: Path) -> str:
    """The fold models `rrlfeh train` wrote under models_dir, logged and registered (no gate)."""
    from rrlfeh.serving.packaging import read_manifests

    _private_store(workdir, "trained")
    return _register(read_manifests(models_dir), models_dir, "rrl-feh-bench")


def _register(manifests: dict, models_dir: Path, name: str) -> str:
    """Log the fold models of models_dir as the end-to-end pyfunc, register them as `name`@bench."""
    import mlflow

    from rrlfeh.config import load_params
    from rrlfeh.serving.registry import log_model

    example = pd.DataFrame({"source_id": [1], "type": ["RRab"], "period": [0.6], "epoch_g": [2000.0],
                            "time": [list(np.linspace(1700, 2700, 60))],
                            "mag": [list(15 + 0.3 * np.cos(np.linspace(0, 60, 60)))]})
    mlflow.set_experiment("bench")
    with mlflow.start_run(run_name=name):
        info = log_model(manifests, models_dir, load_params(ROOT / "params.yaml").predict, example)
    version = mlflow.register_model(info.model_uri, name).version
    mlflow.MlflowClient().set_registered_model_alias(name, "bench", version)
    return f"models:/{name}@bench"


def _peak_rss_mb() -> tuple[float, float]:
    """(peak RSS of this process since the last reset, of the largest finished child), MiB."""
    hwm = 0.0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return hwm, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _gpu_name() -> str:
    """The accelerator Keras ran on ('none' on a CPU-only machine)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        gpus = [d.device_kind for d in jax.devices() if d.platform == "gpu"]
    else:
        import tensorflow as tf

        gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    return ", ".join(gpus) or "none"


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and its finished children (the pool workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _reset_peak_rss() -> None:
    """Start the peak-RSS count afresh (Linux: '5' to clear_refs resets VmHWM), so the simulation
    before the timed run does not count."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-stars", type=int, default=100_000)
    ap.add_argument("--model", default="auto")
    ap.add_argument("--models-dir", type=Path, default=None,
                    help="trained fold models (DIR/rrab, DIR/rrc) to register and use instead of --model")
    ap.add_argument("--units", type=int, default=32, help="paper-size: GRU units")
    ap.add_argument("--folds", type=int, default=5, help="paper-size: fold models per type")
    ap.add_argument("--ensemble-size", type=int, default=None, help="default predict.ensemble_size")
    ap.add_argument("--n-jobs", type=int, default=None, help="default predict.n_jobs")
    ap.add_argument("--chunk-stars", type=int, default=None, help="default predict.chunk_stars")
    ap.add_argument("--batch-size", type=int, default=None, help="default predict.batch_size")
    ap.add_argument("--engine", default="local", choices=["local", "spark"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "rrlfeh-bench-predict")
    args = ap.parse_args()

    from rrlfeh.runtime import configure_environment

    configure_environment()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from rrlfeh.config import load_params
    from rrlfeh.runtime import resolve_jobs
    from rrlfeh.serving.predict import run_predict
    from rrlfeh.tracking import tracking_uri

    data = simulate_catalogue(args.n_stars, args.seed, args.workdir / f"data_n{args.n_stars}_s{args.seed}")
    model, label = args.model, args.model
    if args.models_dir is not None:
        model = trained_model(args.workdir, args.models_dir)
        label = f"trained fold models of {args.models_dir}"
    elif model == "auto":
        import mlflow

        store = tracking_uri()
        mlflow.set_tracking_uri(store)
        mlflow.set_registry_uri(store)
        model = "models:/rrl-feh@champion"
        label = "project champion (models:/rrl-feh@champion)"
        # an absent SQLite store would be created by merely asking it: look before asking
        absent = store.startswith("sqlite:///") and not Path(store[len("sqlite:///"):]).exists()
        if absent or not _registered(model):
            model, label = tiny_model(args.workdir), "tiny test model (no champion in the project store)"
    elif model == "tiny":
        model, label = tiny_model(args.workdir), "tiny test model"
    elif model == "paper-size":
        model = paper_size_model(args.workdir, args.units, args.folds, args.seed)
        label = f"untrained paper-size GRU ensemble ({args.units} units, {args.folds} folds; speed only)"

    cfg = load_params(ROOT / "params.yaml").predict
    overrides = {"ensemble_size": args.ensemble_size, "n_jobs": args.n_jobs,
                 "chunk_stars": args.chunk_stars, "batch_size": args.batch_size}
    cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    out = args.workdir / "out" / "catalogue.parquet"
    import mlflow  # noqa: F401  imported before the clock starts: the timing is predict's work
    # (run_predict imports MLflow lazily; the library's ~1.5 s import is not inference speed)

    _reset_peak_rss()
    load_before, cpu_before = os.getloadavg()[0], _cpu_seconds()
    start = time.perf_counter()
    counts = run_predict(cfg, model, [data], out, args.engine, progress=sys.stderr.isatty())
    wall = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu_before
    main_mb, child_mb = _peak_rss_mb()
    rate = args.n_stars / wall
    cores = len(os.sched_getaffinity(0))
    local = args.engine == "local"  # Spark's JVM and Python workers outlive the call: not counted
    print(json.dumps({
        "bench": "predict", "model": label, "model_uri": model, "engine": args.engine,
        "n_stars": args.n_stars, "stars_predicted": counts["stars_predicted"],
        "stars_rejected": counts["stars_rejected"], "rejected_by_reason": counts["rejected_by_reason"],
        "ensemble_size": cfg.ensemble_size,
        **({"n_jobs": resolve_jobs(cfg.n_jobs)} if local else {"spark_master": cfg.spark_master}),
        "chunk_stars": cfg.chunk_stars, "batch_size": cfg.batch_size,
        "wall_s": round(wall, 1), "stars_per_s": round(rate, 1),
        "projected_270k_min": round(270_000 / rate / 60, 1),
        # The wall time depends on what else runs on the machine (load average below); the CPU
        # time per star does much less: on `cores` otherwise idle cores, 270k stars would take
        # about cpu_s * 270k / n_stars / cores if the work spreads over all of them.
        "cpu_s": round(cpu, 1) if local else None,
        "cpu_ms_per_star": round(1000 * cpu / args.n_stars, 2) if local else None,
        "projected_270k_min_from_cpu_on_idle_cores":
            round(cpu * 270_000 / args.n_stars / cores / 60, 1) if local else None,
        "load_avg_1m_before_after": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "peak_rss_main_mb": round(main_mb),
        "peak_rss_largest_worker_mb": round(child_mb) if local else None,
        "cpu_cores": cores, "machine": platform.processor() or platform.machine(),
        "gpu": _gpu_name(),
    }, indent=2))


if __name__ == "__main__":
    main()
