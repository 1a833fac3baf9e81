"""Stage `register`: log the end-to-end model, register it, and move aliases through the gate.

Registry aliases only (`challenger` = newest registered version, `champion` = the served one),
never the deprecated stages. Every move of `champion` is appended to the registered model's
`champion_history` tag, which is what `rollback` walks back; each version carries the reason it
was promoted, demoted or rolled back to.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from pathlib import Path

import pandas as pd

from rrlfeh import tracking
from rrlfeh.config import Params
from rrlfeh.config.loader import to_dict
from rrlfeh.config.serving import RegisterConfig
from rrlfeh.errors import DataError, RRLFehError
from rrlfeh.serving import gate
from rrlfeh.serving.packaging import log_model, model_config, read_manifests

__all__ = ["log_model", "promote", "rollback", "run_register"]

CHAMPION, CHALLENGER = "champion", "challenger"
HISTORY_TAG = "champion_history"
EXPERIMENT = "rrlfeh-register"
INFERENCE_CONFIG_ENV = "MLFLOW_PYFUNC_INFERENCE_CONFIG"  # MLflow's model_config override at load


class RegistryError(RRLFehError):
    """The registry cannot do what was asked (unknown version, nothing to roll back to)."""


def _client(create: bool = False):
    """A client of the project store; only register may create the store (promote and rollback
    need the one that holds the model)."""
    from mlflow import MlflowClient

    if create:
        tracking.use_store()
    else:
        tracking.require_store()
    return MlflowClient()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _champion_scores(client, name: str, sets: dict, champ) -> tuple[dict, dict[str, bool]]:
    """The champion's metrics per type: its recorded ones when it was scored on identical test
    data (same digest), else re-scored end to end on the challenger's test data."""
    import mlflow

    tags = champ.tags or {}
    scores, rescored, model = {}, {}, None
    for t, sset in sets.items():
        if tags.get(f"gate.digest.{t}") == sset.digest and f"gate.wrmse.{t}" in tags:
            scores[t] = {"wrmse": float(tags[f"gate.wrmse.{t}"]), "digest": sset.digest}
            rescored[t] = False
            continue
        model = model or mlflow.pyfunc.load_model(f"models:/{name}/{champ.version}")
        scores[t] = gate.score(model, sset)
        rescored[t] = True
    # types the champion serves and the challenger lacks: the gate counts them as lost
    for key in tags:
        t = key.removeprefix("gate.wrmse.")
        if key.startswith("gate.wrmse.") and t not in scores:
            scores[t] = {"wrmse": float(tags[key])}
    return scores, rescored


@contextlib.contextmanager
def _without_warmup():
    """Models loaded inside (MLflow's check of the input example, the gate's scoring) skip the
    warm-up: each is used once, so tracing its networks ahead would only double the work."""
    before = os.environ.get(INFERENCE_CONFIG_ENV)
    os.environ[INFERENCE_CONFIG_ENV] = json.dumps(json.loads(before or "{}") | {"warmup": False})
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(INFERENCE_CONFIG_ENV, None)
        else:
            os.environ[INFERENCE_CONFIG_ENV] = before


def _alias_version(client, name: str, alias: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _history(client, name: str) -> list[str]:
    return json.loads(client.get_registered_model(name).tags.get(HISTORY_TAG, "[]"))


def _set_champion(client, name: str, version: str, history: list[str]) -> None:
    client.set_registered_model_alias(name, CHAMPION, version)
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps([*history, str(version)]))


@dataclasses.dataclass(frozen=True)
class GateOutcome:
    """The gate's verdict on a challenger, with the scores it was decided on."""

    challenger: dict[str, dict]  # per type: gate.score of the new version
    champion: dict[str, dict] | None  # the same of the champion; None without one
    champ: object | None  # the champion's ModelVersion (None without one)
    promoted: bool
    reason: str


def _record_gate(client, name: str, version: str, manifests: dict, outcome: GateOutcome,
                 run_id: str) -> str:
    """The decision and its numbers on the run (metrics) and on the version (tags, description)."""
    import mlflow

    promoted, reason, champ = outcome.promoted, outcome.reason, outcome.champ
    decision = "promoted" if promoted else "kept_challenger"
    tags = {"gate.decision": decision, "gate.reason": reason, "gate.time": _now(),
            "mlflow_run_id": run_id, "git_commit": tracking.git_commit()}
    for t, m in outcome.challenger.items():
        mlflow.log_metrics({f"challenger_{k}_{t}": v for k, v in m.items()
                            if isinstance(v, (int, float))})
        tags |= {f"gate.wrmse.{t}": str(m["wrmse"]), f"gate.digest.{t}": m["digest"],
                 f"data_md5.{t}": str(manifests[t].get("data_md5"))}
    for t, m in (outcome.champion or {}).items():
        # the champion's scores belong to its own logged model (a version logged by MLflow 2 has
        # none: the active one, the challenger's, takes them)
        mlflow.log_metric(f"champion_wrmse_{t}", m["wrmse"], model_id=tracking.version_model_id(champ))
    if champ is not None:
        tags["gate.champion_version"] = str(champ.version)  # what it was compared with
        if promoted:
            tags["previous_champion"] = str(champ.version)
    for k, v in tags.items():
        client.set_model_version_tag(name, version, k, v)
    client.update_model_version(name, version, description=f"register stage: {decision}. {reason}")
    mlflow.set_tags({"gate.decision": decision, "registered_version": version})
    return decision


def run_register(params: Params, models_dir: Path, processed_dir: Path, clean_dir: Path,
                 out_path: Path) -> dict:
    """Log + register the model as `challenger`; make it `champion` if it passes the gate."""
    import mlflow

    cfg, name = params.register, params.register.model_name
    models_dir, processed_dir, clean_dir = Path(models_dir), Path(processed_dir), Path(clean_dir)
    manifests = read_manifests(models_dir)
    unchanged = gate.unchanged_types(manifests)
    if len(unchanged) == len(manifests):
        raise DataError(f"{models_dir}: every type kept its base model unchanged (no labelled star "
                        "was fine-tuned on): nothing to register")
    sets = gate.build_scoring_sets({t: m for t, m in manifests.items() if t not in unchanged},
                                   processed_dir, clean_dir, params.preprocess.kde_alpha,
                                   params.preprocess.kde_max_weight)
    # one real test star per type: the logged example MLflow checks the model against
    example = pd.concat([s.inputs.head(1) for s in sets.values()], ignore_index=True)
    inputs = {f"models_{t}": models_dir / t for t in manifests} | {"clean": clean_dir}
    run_params = {"register": to_dict(cfg), "predict": model_config(params.predict),
                  "preprocess": {"kde_alpha": params.preprocess.kde_alpha,
                                 "kde_max_weight": params.preprocess.kde_max_weight}}
    # lineage: the train runs that produced the fold models
    tags = {"stage": "register"} | {f"train_run.{t}": str(m.get("mlflow_run_id"))
                                    for t, m in manifests.items()}
    with tracking.stage_run(EXPERIMENT, "register", params=run_params, inputs=inputs, tags=tags) as run, \
            _without_warmup(), contextlib.ExitStack() as stack:
        info = log_model(manifests, models_dir, params.predict, example)
        stack.enter_context(tracking.linked_model(info.model_id))  # the gate's metrics are this model's
        client = _client(create=True)
        version = str(mlflow.register_model(info.model_uri, name).version)
        client.set_registered_model_alias(name, CHALLENGER, version)
        model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
        challenger = {t: gate.score(model, s) for t, s in sets.items()}
        champ = _alias_version(client, name, CHAMPION)
        champion, rescored = (None, {}) if champ is None else _champion_scores(client, name, sets, champ)
        promoted, reason = gate.decide(challenger, champion, cfg.tolerance, unchanged,
                                       None if champ is None else str(champ.version))
        outcome = GateOutcome(challenger, champion, champ, promoted, reason)
        decision = _record_gate(client, name, version, manifests, outcome, run.info.run_id)
        if promoted:
            _set_champion(client, name, version, _history(client, name))
    result = {
        "model_name": name, "version": version, "model_uri": f"models:/{name}/{version}",
        "run_id": run.info.run_id, "promoted": promoted, "decision": decision, "reason": reason,
        "tolerance": cfg.tolerance, "champion": version if promoted else str(champ.version),
        "previous_champion": None if champ is None else str(champ.version),
        "aliases": sorted(client.get_model_version(name, version).aliases),
        "challenger_metrics": challenger, "champion_metrics": champion,
        "champion_rescored": rescored,
        # the train stage's score of the same test split from its tensors, with the same weights
        # (gate.test_weights): a large gap to the end-to-end challenger_metrics means training
        # and serving preprocess differently (~1e-8 comes from the npz's float32 labels)
        "train_stage_test_metrics": {t: m.get("test_metrics") for t, m in manifests.items()},
    }
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


def _version(client, name: str, version: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(name, str(version))
    except MlflowException:
        raise RegistryError(f"{name} has no version {version!r}") from None


def promote(cfg: RegisterConfig, version: str, reason: str) -> dict:
    """Make `version` champion by hand (overriding the gate), recording who-why on both versions."""
    if not reason.strip():
        raise RegistryError("promote needs a --reason")
    client = _client()
    name = cfg.model_name
    target = _version(client, name, version)
    current = _alias_version(client, name, CHAMPION)
    stamp = _now()
    client.set_model_version_tag(name, target.version, "promotion.reason", reason)
    client.set_model_version_tag(name, target.version, "promotion.time", stamp)
    if current is not None and current.version == target.version:
        return {"model_name": name, "champion": str(target.version), "changed": False, "reason": reason}
    if current is not None:
        client.set_model_version_tag(name, target.version, "previous_champion", str(current.version))
        client.set_model_version_tag(name, current.version, "demoted.reason",
                                     f"manual promotion of version {target.version}: {reason}")
    _set_champion(client, name, str(target.version), _history(client, name))
    return {"model_name": name, "champion": str(target.version), "changed": True, "reason": reason,
            "previous_champion": None if current is None else str(current.version)}


def rollback(cfg: RegisterConfig, reason: str) -> dict:
    """Move `champion` back to the champion before the current one (from champion_history)."""
    if not reason.strip():
        raise RegistryError("rollback needs a --reason")
    client = _client()
    name = cfg.model_name
    current = _alias_version(client, name, CHAMPION)
    if current is None:
        raise RegistryError(f"{name} has no champion to roll back")
    history = _history(client, name)
    # Drop the current champion's own entries, then go back to the latest earlier one still there.
    while history and history[-1] == str(current.version):
        history.pop()
    while history:
        try:
            target = client.get_model_version(name, history[-1])
            break
        except Exception:  # a deleted version cannot be champion again
            history.pop()
    else:
        raise RegistryError(f"{name}: no earlier champion than version {current.version} to roll back to")
    stamp = _now()
    client.set_registered_model_alias(name, CHAMPION, target.version)
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history))
    client.set_model_version_tag(name, target.version, "rollback.reason", reason)
    client.set_model_version_tag(name, target.version, "rollback.time", stamp)
    client.set_model_version_tag(name, current.version, "rolled_back.reason", reason)
    return {"model_name": name, "champion": str(target.version),
            "rolled_back_from": str(current.version), "reason": reason}
