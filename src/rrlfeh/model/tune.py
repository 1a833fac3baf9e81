"""Stage `tune@{type}`: keras-tuner Hyperband over the GRU's hyperparameters, tracked in MLflow.

The objective is the weighted validation MSE on a stratified hold-out of the development stars (the
test stars never enter). One MLflow parent run per search, one nested run per trial (every
hyperparameter including keras-tuner's `tuner/*`, per-epoch curves, objective, status).
The tuner's state lives in out_dir/search: an interrupted search resumes where it stopped, in the
same parent run; a search whose config or data changed starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
import warnings
from pathlib import Path

import keras_tuner as kt
import mlflow

from rrlfeh import tracking
from rrlfeh.config.loader import to_dict
from rrlfeh.config.stages import declared
from rrlfeh.config.params import Params
from rrlfeh.errors import DataError
from rrlfeh.model.callbacks import MlflowEpochLogger
from rrlfeh.model.dataset import load_tensors
from rrlfeh.model.finetune import base_hparams
from rrlfeh.model.gru import label_scale
from rrlfeh.model.search_space import GRUHyperModel, trial_hparams
from rrlfeh.features.weights import split_weights
from rrlfeh.model.splits import holdout_split, stratified_subset

EXPERIMENT = "rrlfeh-tune"
OBJECTIVE = "val_wmse"  # weighted MSE without the regularization penalty
SEARCH_DIR = "search"
# What a search folder of ours holds: our state, keras-tuner's oracle/tuner state and trial folders.
_SEARCH_FILES = ("rrlfeh_search.json", "oracle.json", "tuner0.json")
_TRIAL = re.compile(r"trial_\d+")
_TUNER_KEYS = ("tuner/epochs", "tuner/initial_epoch", "tuner/bracket", "tuner/round", "tuner/trial_id")


class MlflowHyperband(kt.Hyperband):
    """Hyperband whose every trial is a nested MLflow run of the active (search) run.

    keras-tuner has no MLflow hook: the nested run opens in on_trial_begin, the epoch logger joins
    the fit in run_trial, and the run closes in on_trial_end, when the trial's status is known.
    """

    def __init__(self, *args, run_params: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.run_params = run_params or {}
        self._trial_run = None

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        values = trial.hyperparameters.values
        hp = {**{k: values.get(k, "none") for k in _TUNER_KEYS}, **values}
        self._trial_run = mlflow.start_run(run_name=f"trial-{trial.trial_id}", nested=True)
        mlflow.set_tags({"kind": "hyperband-trial", "trial_id": trial.trial_id})
        tracking.log_params_flat({**self.run_params, "hp": trial_hparams(values)})
        mlflow.log_params({k: v for k, v in hp.items() if k.startswith("tuner/")})

    def run_trial(self, trial, *args, **kwargs):
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), MlflowEpochLogger(self._trial_run.info.run_id)]
        return super().run_trial(trial, *args, **kwargs)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)  # the oracle scores the trial and saves its state here
        done = self.oracle.get_trial(trial.trial_id)
        if done.score is not None:
            mlflow.log_metric("objective", float(done.score))
        mlflow.set_tag("trial_status", done.status)
        mlflow.end_run("FINISHED" if done.status == "COMPLETED" else "FAILED")
        self._trial_run = None
        score = "n/a" if done.score is None else f"{done.score:.4f}"
        print(f"trial {trial.trial_id} {done.status}: {OBJECTIVE}={score} "
              f"{trial_hparams(done.hyperparameters.values)}", flush=True)


def search_fingerprint(params: Params, data_md5: str, n_points: int) -> str:
    """What a search depends on; a resumed search must match it exactly."""
    key = {
        "seed": params.seed, "split": to_dict(params.split), "tune": to_dict(params.tune),
        "fit": to_dict(params.fit), "kde_alpha": params.preprocess.kde_alpha,
        "kde_max_weight": params.preprocess.kde_max_weight, "data_md5": data_md5, "n_points": n_points,
    }
    return hashlib.md5(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _previous_search(search_dir: Path, fingerprint: str) -> str | None:
    """The parent run id of a resumable search in search_dir; removes a stale search of ours (only
    what rrlfeh and keras-tuner write there) and refuses a folder that is not one of ours."""
    state = search_dir / "rrlfeh_search.json"
    if state.exists():
        try:
            saved = json.loads(state.read_text())
        except ValueError:
            saved = {}
        if isinstance(saved, dict) and saved.get("fingerprint") == fingerprint:
            return saved.get("mlflow_run_id") or ""
        print(f"{search_dir}: params or data changed since this search; starting a fresh one", flush=True)
        for path in search_dir.iterdir():
            if path.name in _SEARCH_FILES or (path.is_dir() and _TRIAL.fullmatch(path.name)):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    elif search_dir.exists() and (not search_dir.is_dir() or any(search_dir.iterdir())):
        raise DataError(
            f"{search_dir} exists and is not a search of `rrlfeh tune` (no rrlfeh_search.json); "
            "move it away or choose another --out: tune deletes nothing it did not write")
    return None


def tune_params(params: Params) -> dict:
    """The params this stage's results depend on (config.stages, the keys dvc.yaml declares)."""
    return declared(params, "tune")


def run_tune(params: Params, star_type: str, data_path: Path, out_dir: Path) -> dict:
    """Search, log, and write out_dir/best_hparams.json; returns its content. When fine-tuning
    (finetune.from_model), no search: the base model's hyperparameters."""
    t0 = time.perf_counter()
    data_path, out_dir = Path(data_path), Path(out_dir)
    if params.finetune.from_model:
        best = base_hparams(params, star_type)
        # the search folder is the stage's declared (persisted) output: present, even with no search
        (out_dir / SEARCH_DIR).mkdir(parents=True, exist_ok=True)
        (out_dir / "best_hparams.json").write_text(json.dumps(best, indent=1) + "\n")
        print(f"tune {star_type}: {best['skipped']}", flush=True)
        return best
    data = load_tensors(data_path)
    holdout = holdout_split(data.source_id, data.y, params.split, params.seed)
    y_dev = data.y[holdout.dev]
    fit_pos, val_pos = stratified_subset(y_dev, params.tune.validation_fraction, params.split.n_bins, params.seed)
    fit_idx, val_idx = holdout.dev[fit_pos], holdout.dev[val_pos]
    w_fit, w_val = split_weights(data.y[fit_idx], data.y[val_idx], params.preprocess.kde_alpha,
                                  params.preprocess.kde_max_weight)

    data_md5 = tracking.md5_of(data_path)
    search_dir = out_dir / SEARCH_DIR
    fingerprint = search_fingerprint(params, data_md5, data.n_points)
    previous = _previous_search(search_dir, fingerprint)
    resume_id = previous if tracking.run_exists(previous) else None
    search_dir.mkdir(parents=True, exist_ok=True)

    run_params = tune_params(params)
    counts = {"n_fit": len(fit_idx), "n_val": len(val_idx), "n_test": len(holdout.test),
              "n_unlabelled": len(holdout.unlabelled)}
    with tracking.stage_run(
        EXPERIMENT, f"tune-{star_type}", params=run_params, inputs={"data": data_path},
        tags={"stage": "tune", "star_type": star_type, "kind": "hyperband-search"}, run_id=resume_id,
        system_metrics=True,
    ) as parent:
        (search_dir / "rrlfeh_search.json").write_text(
            json.dumps({"fingerprint": fingerprint, "mlflow_run_id": parent.info.run_id}, indent=1))
        mlflow.log_metrics({k: float(v) for k, v in counts.items()})
        tuner = MlflowHyperband(
            hypermodel=GRUHyperModel(data.n_points, params.tune, params.seed, label_scale(data.y[fit_idx]),
                                     fit=params.fit, n_train=len(fit_idx)),
            objective=kt.Objective(OBJECTIVE, direction="min"),
            max_epochs=params.tune.max_epochs,
            factor=params.tune.factor,
            hyperband_iterations=params.tune.hyperband_iterations,
            seed=params.seed,
            max_consecutive_failed_trials=10,  # lr 0.1 may diverge now and then; that is a result
            directory=str(out_dir),
            project_name=SEARCH_DIR,
            overwrite=False,
            run_params=run_params,
        )
        if not tuner.oracle.trials:
            _set_min_epochs(tuner.oracle, min(params.tune.min_epochs, params.tune.max_epochs))
        if resume_id:
            closed = _close_interrupted_trials(tuner, parent.info.run_id)
            print(f"resuming search {parent.info.run_id} ({closed} interrupted trial run(s) closed)", flush=True)
        with warnings.catch_warnings():
            # keras-tuner continues a Hyperband round from the weights alone (Adam starts afresh)
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            tuner.search(
                data.X[fit_idx], data.y[fit_idx], sample_weight=w_fit,
                validation_data=(data.X[val_idx], data.y[val_idx], w_val),
                epochs=params.tune.max_epochs, verbose=0,
            )
        best = _best(tuner, parent.info.run_id, counts)
        mlflow.set_tags({f"best.{k}": str(v) for k, v in best["hparams"].items()})
        mlflow.log_metrics({"best_objective": best["score"], "n_trials": best["n_trials"],
                            "wall_s": time.perf_counter() - t0})
        mlflow.log_dict(best, "best_hparams.json")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "best_hparams.json").write_text(json.dumps(best, indent=1) + "\n")
    return best


def _set_min_epochs(oracle, min_epochs: int) -> None:
    """Skip the brackets whose first round would be shorter than `min_epochs` epochs.

    keras-tuner's HyperbandOracle has the attribute but no constructor argument, and opens its first
    bracket in __init__; a fresh search re-plans it here (a resumed one reloads all from its state).
    """
    oracle.min_epochs = int(min_epochs)
    oracle._current_bracket = oracle._get_num_brackets() - 1
    oracle._brackets = []
    oracle._start_new_bracket()


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
        "hparams": trial_hparams(top.hyperparameters.values),
        "objective": OBJECTIVE,
        "score": float(top.score),
        "trial_id": top.trial_id,
        "n_trials": len(trials),
        "n_completed": len(completed),
        "counts": counts,
        "mlflow_run_id": run_id,
    }
