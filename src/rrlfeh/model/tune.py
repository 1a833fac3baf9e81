"""Stage `tune@{type}`: keras-tuner Hyperband over the GRU's hyperparameters, tracked in MLflow.

The objective is the weighted validation MSE on a stratified hold-out of the development stars (the
test stars never enter). One MLflow parent run per search, one nested run per trial (every
hyperparameter including keras-tuner's `tuner/*`, per-epoch curves, objective, status).
The tuner's state lives in out_dir/search: an interrupted search resumes where it stopped, in the
same parent run; a search whose config or data changed starts afresh.
With `tune.workers` > 1 (or keras-tuner's chief/worker variables, see tune_workers) the trials run
in worker processes of a keras-tuner chief, each logging its trials under the same parent run.
"""

from __future__ import annotations

import logging
import hashlib
import json
import os
import re
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import keras_tuner as kt
import mlflow
import numpy as np

from rrlfeh import tracking
from rrlfeh.config.loader import to_dict
from rrlfeh.config.stages import STAGES, declared
from rrlfeh.config.params import Params
from rrlfeh.errors import DataError
from rrlfeh.model import tune_workers
from rrlfeh.model.dataset import Tensors, load_tensors
from rrlfeh.model.finetune import base_hparams
from rrlfeh.model.networks import label_scale
from rrlfeh.model.hyperband import OBJECTIVE, MlflowHyperband, ShortestRoundHyperbandOracle
from rrlfeh.model.search_space import RegressorHyperModel, trial_hparams
from rrlfeh.features.weights import split_weights
from rrlfeh.model.splits import holdout_split, stratified_subset

log = logging.getLogger(__name__)

EXPERIMENT = "rrlfeh-tune"
SEARCH_DIR = "search"
SEARCH_STATE = "rrlfeh_search.json"
# What a search folder of ours holds: our state, keras-tuner's oracle and tuner state, trial folders.
_SEARCH_FILES = (SEARCH_STATE, "oracle.json")
_TRIAL = re.compile(r"trial_\d+")


def search_fingerprint(params: Params, data_md5: str, n_points: int) -> str:
    """What a search depends on; a resumed search must match it exactly (the stage's operational
    knobs, tune.workers, are not part of it: a search resumes with any number of workers)."""
    operational = {k.split(".", 1)[1] for k in STAGES["tune"].keys()[1] if k.startswith("tune.")}
    tune = {k: v for k, v in to_dict(params.tune).items() if k not in operational}
    key = {
        "seed": params.seed, "split": to_dict(params.split), "tune": tune,
        "fit": to_dict(params.fit), "kde_alpha": params.preprocess.kde_alpha,
        "kde_max_weight": params.preprocess.kde_max_weight, "data_md5": data_md5, "n_points": n_points,
    }
    if params.model.arch != "gru":  # a GRU search keeps the fingerprint it had before model.arch (it resumes)
        key["arch"] = params.model.arch
    return hashlib.md5(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _ours(path: Path) -> bool:
    if path.is_dir():
        return bool(_TRIAL.fullmatch(path.name))
    return path.name in _SEARCH_FILES or bool(tune_workers.TUNER_FILE.fullmatch(path.name))


def _previous_search(search_dir: Path, fingerprint: str) -> str | None:
    """The parent run id of a resumable search in search_dir; removes a stale search of ours (only
    what rrlfeh and keras-tuner write there) and refuses a folder that is not one of ours."""
    state = search_dir / SEARCH_STATE
    if state.exists():
        try:
            saved = json.loads(state.read_text())
        except ValueError:
            saved = {}
        if isinstance(saved, dict) and saved.get("fingerprint") == fingerprint:
            return saved.get("mlflow_run_id") or ""
        log.info(f"{search_dir}: params or data changed since this search; starting a fresh one")
        for path in search_dir.iterdir():
            if _ours(path):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    elif search_dir.exists() and (not search_dir.is_dir() or any(search_dir.iterdir())):
        raise DataError(
            f"{search_dir} exists and is not a search of `rrlfeh tune` (no {SEARCH_STATE}); "
            "move it away or choose another --out: tune deletes nothing it did not write")
    return None


def _chief_search_run(search_dir: Path, fingerprint: str) -> str:
    """A worker's parent run: the chief's, which the chief records before it serves trials."""
    try:
        saved = json.loads((search_dir / SEARCH_STATE).read_text())
    except (OSError, ValueError):
        saved = {}
    if saved.get("fingerprint") != fingerprint:
        raise DataError(f"{search_dir}: no search of the chief with this worker's params and data "
                        "(a worker needs the chief's params, data file and search folder)")
    return saved["mlflow_run_id"]


def tune_params(params: Params) -> dict:
    """The params this stage's results depend on (config.stages, the keys dvc.yaml declares)."""
    return declared(params, "tune")


@dataclass
class SearchJob:
    """One search's inputs: the split of the development stars into fit and validation stars."""

    params: Params
    out_dir: Path
    data: Tensors
    fit_idx: np.ndarray
    val_idx: np.ndarray
    weights: tuple[np.ndarray, np.ndarray]  # (fit, validation)
    counts: dict
    fingerprint: str

    @property
    def search_dir(self) -> Path:
        return self.out_dir / SEARCH_DIR


def prepare(params: Params, data_path: Path, out_dir: Path) -> SearchJob:
    """Load the tensors and hold out the validation stars (the test stars never enter)."""
    data = load_tensors(data_path)
    holdout = holdout_split(data.source_id, data.y, params.split, params.seed)
    y_dev = data.y[holdout.dev]
    fit_pos, val_pos = stratified_subset(y_dev, params.tune.validation_fraction, params.split.n_bins, params.seed)
    fit_idx, val_idx = holdout.dev[fit_pos], holdout.dev[val_pos]
    weights = split_weights(data.y[fit_idx], data.y[val_idx], params.preprocess.kde_alpha,
                            params.preprocess.kde_max_weight)
    counts = {"n_fit": len(fit_idx), "n_val": len(val_idx), "n_test": len(holdout.test),
              "n_unlabelled": len(holdout.unlabelled)}
    fingerprint = search_fingerprint(params, tracking.md5_of(data_path), data.n_points)
    return SearchJob(params, out_dir, data, fit_idx, val_idx, weights, counts, fingerprint)


def build_tuner(job: SearchJob, parent, run_params: dict) -> MlflowHyperband:
    """The Hyperband tuner of this search, reloading its state from the search folder if any."""
    p = job.params
    oracle = ShortestRoundHyperbandOracle(
        objective=kt.Objective(OBJECTIVE, direction="min"),
        max_epochs=p.tune.max_epochs,
        factor=p.tune.factor,
        hyperband_iterations=p.tune.hyperband_iterations,
        seed=p.seed,
        max_consecutive_failed_trials=10,  # lr 0.1 may diverge now and then; that is a result
        min_epochs=min(p.tune.min_epochs, p.tune.max_epochs),
    )
    hypermodel = RegressorHyperModel(job.data.n_points, p.tune, p.seed, label_scale(job.data.y[job.fit_idx]),
                                     fit=p.fit, n_train=len(job.fit_idx), arch=p.model.arch)
    _mark_resumable(job.search_dir)
    return MlflowHyperband(oracle, hypermodel, parent, run_params, directory=str(job.out_dir),
                           project_name=SEARCH_DIR, overwrite=False)


def _mark_resumable(search_dir: Path) -> None:
    """keras-tuner reloads a search's oracle only if the file of this process's tuner id exists
    (tuner0.json in one process, chief.json as chief; its state is empty): a search begun with
    another number of workers resumes too."""
    if tune_workers.role() == "worker" or not (search_dir / "oracle.json").exists():
        return
    own = search_dir / f"{os.environ.get(tune_workers.ID, 'tuner0')}.json"
    if not own.exists():
        own.write_text("{}")


def _search_trials(tuner: MlflowHyperband, job: SearchJob) -> None:
    """Run trials until the oracle stops (one process, or one worker of a chief)."""
    d, w_fit, w_val = job.data, *job.weights
    with warnings.catch_warnings():
        # keras-tuner continues a Hyperband round from the weights alone (Adam starts afresh)
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        tuner.search(
            d.X[job.fit_idx], d.y[job.fit_idx], sample_weight=w_fit,
            validation_data=(d.X[job.val_idx], d.y[job.val_idx], w_val),
            epochs=job.params.tune.max_epochs, verbose=0,
        )


def run_tune(params: Params, star_type: str, data_path: Path, out_dir: Path) -> dict:
    """Search, log, and write out_dir/best_hparams.json; returns its content. When fine-tuning
    (finetune.from_model), no search: the base model's hyperparameters. Run as a keras-tuner
    worker (tune_workers), it trains the chief's trials and returns {"tuner_id": ...}."""
    t0 = time.perf_counter()
    data_path, out_dir = Path(data_path), Path(out_dir)
    if params.finetune.from_model:
        return _skip_search(params, star_type, out_dir)
    job = prepare(params, data_path, out_dir)
    mode = tune_workers.role()
    if mode == "worker":
        tracking.use_store()
        tuner = build_tuner(job, lambda: _chief_search_run(job.search_dir, job.fingerprint), tune_params(params))
        _search_trials(tuner, job)
        return {"tuner_id": tuner.tuner_id}
    previous = _previous_search(job.search_dir, job.fingerprint)
    resume_id = previous if tracking.run_exists(previous) else None
    job.search_dir.mkdir(parents=True, exist_ok=True)
    with tracking.stage_run(
        EXPERIMENT, f"tune-{star_type}", params=tune_params(params), inputs={"data": data_path},
        tags={"stage": "tune", "star_type": star_type, "kind": "hyperband-search"}, run_id=resume_id,
        system_metrics=True,
    ) as parent:
        (job.search_dir / SEARCH_STATE).write_text(
            json.dumps({"fingerprint": job.fingerprint, "mlflow_run_id": parent.info.run_id}, indent=1))
        mlflow.log_metrics({k: float(v) for k, v in job.counts.items()})
        n = tune_workers.local_workers(params.tune.workers, mode)
        mlflow.set_tag("tune_workers", str(n or 1))
        tuner = _search(job, (params, star_type, data_path, out_dir), parent.info.run_id, n, bool(resume_id))
        best = _best(tuner, parent.info.run_id, job.counts)
        mlflow.set_tags({f"best.{k}": str(v) for k, v in best["hparams"].items()})
        mlflow.log_metrics({"best_objective": best["score"], "n_trials": best["n_trials"],
                            "wall_s": time.perf_counter() - t0})
        mlflow.log_dict(best, "best_hparams.json")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "best_hparams.json").write_text(json.dumps(best, indent=1) + "\n")
    return best


def _skip_search(params: Params, star_type: str, out_dir: Path) -> dict:
    best = base_hparams(params, star_type)
    # the search folder is the stage's declared (persisted) output: present, even with no search
    (out_dir / SEARCH_DIR).mkdir(parents=True, exist_ok=True)
    (out_dir / "best_hparams.json").write_text(json.dumps(best, indent=1) + "\n")
    log.info(f"tune {star_type}: {best['skipped']}")
    return best


def _search(job: SearchJob, args: tuple, parent_run_id: str, workers: int, resumed: bool) -> MlflowHyperband:
    """The search in this process (workers 0), or as the chief of `workers` local worker processes
    (each runs run_tune(*args) as a keras-tuner worker) and of any that join from other hosts."""
    run_params = tune_params(job.params)
    if not workers:
        tuner = build_tuner(job, parent_run_id, run_params)
        _settle(tuner, parent_run_id, resumed)
        _search_trials(tuner, job)
        return tuner
    with tune_workers.chief_env() as address:
        tuner = build_tuner(job, parent_run_id, run_params)
        _settle(tuner, parent_run_id, resumed)
        log.info(f"tune: chief at {address[0]}:{address[1]}, {workers} local worker(s)")
        tune_workers.serve(tuner, tune_workers.start_workers(workers, address, run_tune, args))
    return tuner


def _settle(tuner: MlflowHyperband, parent_run_id: str, resumed: bool) -> None:
    if resumed:
        closed = _close_interrupted_trials(tuner, parent_run_id)
        log.info(f"resuming search {parent_run_id} ({closed} interrupted trial run(s) closed)")


def _close_interrupted_trials(tuner: MlflowHyperband, parent_run_id: str) -> int:
    """Settle the trial runs a killed search left RUNNING, by the tuner's saved state (the truth):
    a trial it recorded as completed is FINISHED with its objective; any other is KILLED (keras-tuner
    runs it again, in a new nested run)."""
    client = mlflow.MlflowClient()
    stale = [r for r in tracking.children(parent_run_id) if r.info.status == "RUNNING"]
    for run in stale:
        trial = tuner.oracle.trials.get(run.data.tags.get("trial_id", ""))
        if trial is not None and trial.status == "COMPLETED" and trial.score is not None:
            client.log_metric(run.info.run_id, "objective", float(trial.score))
            client.set_tag(run.info.run_id, "trial_status", trial.status)
            client.set_terminated(run.info.run_id, status="FINISHED")
        else:
            client.set_terminated(run.info.run_id, status="KILLED")
    return len(stale)


def _best(tuner: MlflowHyperband, run_id: str, counts: dict) -> dict:
    from rrlfeh.errors import DataError

    trials = tuner.oracle.trials.values()
    completed = [t for t in trials if t.status == "COMPLETED" and t.score is not None]
    if not completed:
        raise DataError("no Hyperband trial completed; see the trial runs in MLflow for the errors")
    top = tuner.oracle.get_best_trials(1)[0]
    return {
        "hparams": trial_hparams(top.hyperparameters.values, tuner.hypermodel.arch),
        "objective": OBJECTIVE,
        "score": float(top.score),
        "trial_id": top.trial_id,
        "n_trials": len(trials),
        "n_completed": len(completed),
        "counts": counts,
        "mlflow_run_id": run_id,
    }
