"""MLflow conventions: where the store is, run names, tags that lead back to data and code."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any, Iterator

from rrlfeh.runtime import project_root


def tracking_uri(root: Path | None = None) -> str:
    """MLFLOW_TRACKING_URI if set, else an absolute sqlite:///<repo>/mlflow.db."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        if env.startswith("sqlite:///") and not env.startswith("sqlite:////"):
            rel = env[len("sqlite:///") :]
            return "sqlite:///" + str((project_root(root) / rel).resolve())
        return env
    return "sqlite:///" + str((project_root(root) / "mlflow.db").resolve())


def artifact_root(root: Path | None = None) -> str | None:
    """Artifacts live beside the store, under <repo>/mlartifacts, unless MLFLOW_ARTIFACT_ROOT is set;
    None for a tracking server: its own (proxied) artifact store, which every clone can read."""
    env = os.environ.get("MLFLOW_ARTIFACT_ROOT")
    if env:
        return env
    if tracking_uri(root).startswith(("http://", "https://")):
        return None
    return (project_root(root) / "mlartifacts").resolve().as_uri()


# The project store this module last made the registry. mlflow.set_registry_uri exports MLFLOW_REGISTRY_URI, so
# without this a second store used in the same process would keep the first store's registry.
_registry_set: str | None = None


def use_store(root: Path | None = None) -> str:
    """Point MLflow's tracking and registry at the project store (MLFLOW_REGISTRY_URI, if the user
    set it, keeps the registry elsewhere); returns the tracking URI."""
    import mlflow

    global _registry_set
    uri = tracking_uri(root)
    mlflow.set_tracking_uri(uri)
    exported = os.environ.get("MLFLOW_REGISTRY_URI")
    if exported is None or exported == _registry_set:
        _registry_set = uri
        mlflow.set_registry_uri(uri)
    else:  # the user's choice, also over a registry set earlier in this process
        mlflow.set_registry_uri(exported)
    return uri


def sqlite_file(uri: str | None) -> Path | None:
    """The database file of a sqlite:/// URI, or None for any other store."""
    if uri and uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):])
    return None


def require_store(root: Path | None = None) -> str:
    """use_store for commands that only read the store or change what is in it (predict, serve,
    promote, rollback): a SQLite store that is not there is an error, never silently created."""
    from rrlfeh.errors import StoreError

    uri = tracking_uri(root)
    for db in (sqlite_file(uri), sqlite_file(os.environ.get("MLFLOW_REGISTRY_URI"))):
        if db is not None and not db.is_file():
            raise StoreError(f"no MLflow store at {db}: run 'make run' (or 'dvc repro') first, or "
                             "set MLFLOW_TRACKING_URI to the store that holds the model")
    return use_store(root)


def use_store_for_model(model_uri: str) -> str:
    """The store a model URI is resolved against: models:/ and runs:/ need an existing one (a
    model folder needs none)."""
    if model_uri.startswith(("models:/", "runs:/")):
        return require_store()
    return use_store()


# The experiment tag MLflow 3's UI reads for an experiment's kind. In 3.17 the UI's own mode wins
# (GenAI by default, where an experiment opens on traces): README's address selects "Model
# training" mode (?workflowType=machine_learning), where the experiments open on their runs.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
# What each experiment holds and the columns worth comparing (the UI shows it as the description;
# the runs table's column choice itself is kept by the browser, not the server)
EXPERIMENT_NOTES = {
    "rrlfeh-tune": "Hyperband search per type: a parent run per search, a nested run per trial. "
                   "Compare trials on `objective` (weighted val MSE) against `dropout`, `learning_rate`, "
                   "`batch_size`, `reg_type`, `tuner/epochs`.",
    "rrlfeh-train": "Cross-validated GRU per type: a parent run per type, a nested run per fold. "
                    "Compare parents on `oof_wrmse`, `test_wrmse`, `ratio_to_oracle_oof_wrmse`, "
                    "`ratio_to_oracle_test_wrmse`, `cv_val_r2_mean` against `train.epochs`, `fit.schedule`, "
                    "`preprocess.n_points_*`.",
    "rrlfeh-register": "One run per registration: the end-to-end model, the gate's scores of challenger "
                       "and champion, the decision (tags `decision`, `reason`).",
}


def tag_experiment(exp_id: str, experiment: str) -> None:
    """Mark the experiment as model training (the UI opens on its runs) and describe it."""
    import mlflow

    client = mlflow.MlflowClient()
    tags = client.get_experiment(exp_id).tags
    wanted = {EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}
    if experiment in EXPERIMENT_NOTES:
        wanted["mlflow.note.content"] = EXPERIMENT_NOTES[experiment]
    for key, value in wanted.items():
        if tags.get(key) != value:
            client.set_experiment_tag(exp_id, key, value)


def setup(experiment: str, root: Path | None = None) -> str:
    """Point MLflow at the project store and select (creating if needed) `experiment`."""
    import mlflow

    use_store(root)
    launched = os.environ.get("MLFLOW_RUN_ID")
    if launched:  # under `mlflow run`: the launcher's run becomes the stage's run, in its experiment
        exp_id = mlflow.get_run(launched).info.experiment_id
        mlflow.set_experiment(experiment_id=exp_id)
        tag_experiment(exp_id, experiment)
        return exp_id
    exp = mlflow.get_experiment_by_name(experiment)
    if exp is None:
        base = artifact_root(root)
        exp_id = mlflow.create_experiment(
            experiment, artifact_location=None if base is None else f"{base}/{experiment}"
        )
    else:
        exp_id = exp.experiment_id
    mlflow.set_experiment(experiment_id=exp_id)
    tag_experiment(exp_id, experiment)  # stores made before the tag existed get it too
    return exp_id


def git_commit(root: Path | None = None) -> str:
    """HEAD's commit, with '-dirty' when the work tree has changes; 'unknown' outside git."""
    cwd = project_root(root)
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, check=True,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def md5_of(path: str | Path) -> str:
    """md5 of a file (as DVC's for a file), or of a folder's sorted relative paths and contents
    (a fingerprint of its own, not DVC's `.dir` hash: lineage.dvc_md5 is that)."""
    path = Path(path)
    h = hashlib.md5()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def provenance_tags() -> dict[str, str]:
    """Tags every run carries: git commit, DVC experiment name (the inputs are logged datasets)."""
    tags = {"git_commit": git_commit()}
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc_exp_name"] = os.environ["DVC_EXP_NAME"]
    return tags


# Seconds between system metric samples (CPU, memory, disk, network, GPU): a tiny run of half a
# minute still gets a few points; MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL, if set, wins.
SYSTEM_METRICS_INTERVAL_S = 5


def _system_metrics_interval() -> None:
    import mlflow

    if not os.environ.get("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL"):
        mlflow.set_system_metrics_sampling_interval(SYSTEM_METRICS_INTERVAL_S)


def version_model_id(version: Any) -> str | None:
    """The logged model a registry version was made from: its `model_id`, or, where the store left
    that empty (SQLite, a version registered from `models:/<model_id>`), the id its source names."""
    if getattr(version, "model_id", None):
        return version.model_id
    source = getattr(version, "source", None) or ""
    return source.removeprefix("models:/") if source.startswith("models:/m-") else None


@contextlib.contextmanager
def linked_model(model_id: str | None) -> Iterator[None]:
    """Metrics logged inside are linked to the logged model `model_id` (MLflow 3), also after a
    load_model of another one (which would otherwise become the active model)."""
    import mlflow

    if model_id is None:
        yield
        return
    with mlflow.set_active_model(model_id=model_id):
        yield


def log_params_flat(params: dict[str, Any], prefix: str = "") -> None:
    """Log a nested dict of params as flat `a.b.c` MLflow params (the compare view's columns)."""
    import mlflow

    from rrlfeh.config.loader import flatten

    flat = {k: (str(v) if isinstance(v, (list, tuple, dict)) else v) for k, v in flatten(params, prefix).items()}
    items = list(flat.items())
    for i in range(0, len(items), 100):  # MLflow's batch limit
        mlflow.log_params(dict(items[i : i + 100]))


@contextlib.contextmanager
def stage_run(experiment: str, run_name: str, params: dict[str, Any] | None = None,
              inputs: dict[str, str | Path] | None = None, tags: dict[str, str] | None = None,
              run_id: str | None = None, system_metrics: bool = False) -> Iterator[Any]:
    """A parent run for one stage invocation, with params, provenance tags and its inputs (logged
    datasets whose digest is DVC's md5 of each path) logged.

    `run_id` reopens an earlier run (a resumed search); `system_metrics` samples the machine
    (system/* metrics) until the run ends. On any exception, Ctrl-C included, the runs still open
    under it are ended first, as FAILED/KILLED, so none is left RUNNING (ending a run also stops
    its system-metrics thread).
    """
    import mlflow

    from rrlfeh import lineage

    setup(experiment)
    if os.environ.get("MLFLOW_RUN_ID"):
        run_id = None  # `mlflow run` chose the run
    if system_metrics:
        _system_metrics_interval()
    run = mlflow.start_run(run_id=run_id, run_name=None if run_id else run_name,
                           log_system_metrics=system_metrics or None)
    try:
        mlflow.set_tags({**provenance_tags(), **owner_tags(), **(tags or {})})
        if params:
            log_params_flat(params)
        lineage.log_inputs(inputs or {})
        yield run
    except BaseException as exc:
        status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        while mlflow.active_run() is not None:
            mlflow.end_run(status)
        raise
    while mlflow.active_run() is not None:
        mlflow.end_run("FINISHED")


@contextlib.contextmanager
def child_run(run_name: str, params: dict[str, Any] | None = None,
              tags: dict[str, str] | None = None, parent_run_id: str | None = None) -> Iterator[Any]:
    """A run nested under the active stage run (one Hyperband trial, one CV fold), or under
    `parent_run_id` when the parent is open in another process (a fold trained by a worker)."""
    import mlflow

    if parent_run_id is None:
        start = {"nested": True}
    else:
        experiment_id = mlflow.MlflowClient().get_run(parent_run_id).info.experiment_id
        start = {"parent_run_id": parent_run_id, "experiment_id": experiment_id}
    with mlflow.start_run(run_name=run_name, **start) as run:
        if tags:
            mlflow.set_tags(tags)
        if params:
            log_params_flat(params)
        yield run


def log_metrics_flat(metrics: dict[str, Any], prefix: str = "", step: int | None = None) -> None:
    """Log a nested dict of numbers as flat `prefix_a_b` metrics; None and NaN are skipped."""
    import math

    import mlflow

    from rrlfeh.config.loader import flatten

    flat = {
        (f"{prefix}_{k}" if prefix else k).replace(".", "_"): float(v)
        for k, v in flatten(metrics).items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    }
    if flat:
        mlflow.log_metrics(flat, step=step)


def children(parent_run_id: str) -> list[Any]:
    """The runs nested under `parent_run_id` (oldest first)."""
    import mlflow

    client = mlflow.MlflowClient()
    parent = client.get_run(parent_run_id)
    runs = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
        max_results=50000,
    )
    return sorted(runs, key=lambda r: r.info.start_time)


def run_exists(run_id: str | None) -> bool:
    """Whether `run_id` is a live (not deleted) run of the current store."""
    import mlflow
    from mlflow.exceptions import MlflowException

    if not run_id:
        return False
    try:
        return mlflow.get_run(run_id).info.lifecycle_stage == "active"
    except MlflowException:
        return False


# Which process runs a stage run: after a kill, the next run of the stage can tell its own
# abandoned runs (owner gone) from another process's live ones (owner still running).
OWNER_TAGS = ("rrlfeh.host", "rrlfeh.pid", "rrlfeh.pid_started")


def _process_start(pid: int) -> str | None:
    """When process `pid` started (a stamp that tells a reused pid apart), or None if none runs."""
    import psutil

    try:
        return f"{psutil.Process(pid).create_time():.2f}"
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def owner_tags() -> dict[str, str]:
    """Tags naming this process (host, pid, start time)."""
    import socket

    pid = os.getpid()
    return dict(zip(OWNER_TAGS, (socket.gethostname(), str(pid), _process_start(pid) or "")))


def owner_gone(tags: dict[str, str]) -> bool:
    """Whether the process that opened a run is known to be gone: it ran on this host and no
    process with its pid and start time runs now. Runs of other hosts are never judged."""
    import socket

    host, pid, started = (tags.get(k) for k in OWNER_TAGS)
    if host != socket.gethostname() or not (pid or "").isdigit():
        return False
    return _process_start(int(pid)) != started


def close_abandoned_runs(experiment: str, tags: dict[str, str]) -> list[str]:
    """End as KILLED the runs of `experiment` carrying `tags` that a killed process of this host
    left RUNNING, with the runs still RUNNING under them; returns the parent run ids closed."""
    import mlflow

    exp = mlflow.get_experiment_by_name(experiment)
    if exp is None:
        return []
    client = mlflow.MlflowClient()
    where = " and ".join(["attributes.status = 'RUNNING'",
                          *(f"tags.`{k}` = '{v}'" for k, v in tags.items())])
    closed = []
    for run in client.search_runs([exp.experiment_id], filter_string=where, max_results=1000):
        if not owner_gone(run.data.tags):
            continue
        for child in children(run.info.run_id):
            if child.info.status == "RUNNING":
                client.set_terminated(child.info.run_id, status="KILLED")
        client.set_terminated(run.info.run_id, status="KILLED")
        closed.append(run.info.run_id)
    return closed
