"""Which params.yaml keys each pipeline stage reads, declared once, per key.

`results` are the keys a stage's outputs depend on: dvc.yaml declares exactly these under the
stage's `params` (tests/structure/test_stage_params.py compares them), so changing one reruns the
stage. `operational` are knobs the stage also reads that by design do not change its outputs
(worker processes, chunk sizes, network retries): dvc.yaml leaves them out, so changing them
reruns nothing. `{type}` stands for the star type of a per-type stage (preprocess@rrab reads
`preprocess.n_points_rrab`).

The CLI hands each stage its params through `restrict`: reading a key outside both lists raises
ConfigError naming it, so a stage cannot start depending on a key dvc.yaml does not declare.
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from rrlfeh.config.loader import ConfigError
from rrlfeh.config.params import Params

_GAIA_RESULTS = ("tap_server", "data_server", "vari_table", "source_table", "where", "source_ids", "top",
                 "tap_mode", "data_release", "datalink_format", "valid_data", "batch_size", "labels",
                 "labels_columns")
_CURVE = ("preprocess.n_points_{type}", "preprocess.smoothing", "preprocess.n_knots",
          "preprocess.min_epochs", "preprocess.max_phase_gap")
_WEIGHTS = ("preprocess.kde_alpha", "preprocess.kde_max_weight")
_TUNE = ("max_epochs", "factor", "min_epochs", "hyperband_iterations", "validation_fraction", "dropout",
         "learning_rate", "batch_size", "units", "reg_type", "reg_strength")


@dataclass(frozen=True)
class StageParams:
    results: tuple[str, ...]
    operational: tuple[str, ...] = ()

    def keys(self, star_type: str | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(results, operational) with `{type}` filled in."""
        def fill(keys):
            if star_type is None:  # the keys that do not depend on the type
                return tuple(k for k in keys if "{type}" not in k)
            return tuple(k.replace("{type}", star_type) for k in keys)
        return fill(self.results), fill(self.operational)


STAGES: dict[str, StageParams] = {
    "extract": StageParams(
        results=("seed", "extract.source", "extract.simulate",
                 *(f"extract.gaia.{k}" for k in _GAIA_RESULTS),
                 "extract.files.vari_rrlyrae", "extract.files.epoch_photometry", "extract.files.labels",
                 "extract.files.labels_columns"),
        operational=("extract.gaia.retries", "extract.gaia.backoff_s", "extract.gaia.timeout_s",
                     "extract.gaia.query_timeout_s", "extract.files.stars_per_batch",
                     "extract.files.rows_per_part"),
    ),
    "validate": StageParams(results=("validate",)),
    "clean": StageParams(results=("clean", "validate")),  # the clean tables pass the same GX suites
    "preprocess": StageParams(
        results=(*_CURVE, *_WEIGHTS),
        operational=("preprocess.chunk_stars", "preprocess.n_jobs"),
    ),
    "tune": StageParams(
        results=("seed", "split", *(f"tune.{k}" for k in _TUNE), "fit", "finetune.from_model", *_WEIGHTS),
        operational=("tune.workers",),  # the same trials and scores with any number of workers
    ),
    "train": StageParams(
        results=("seed", "split", "train.k_folds", "train.repeats", "train.epochs", "train.patience",
                 "train.warmup_epochs", "train.range_quantile", "train.shape_components", "fit",
                 "finetune", *_CURVE, *_WEIGHTS),  # the curve options go into the manifest
        operational=("train.n_jobs",),
    ),
    "register": StageParams(
        # predict.*: what the registered model itself uses (its model_config); the rest is batch-only
        results=("register", "predict.min_epochs", "predict.ensemble_size", "predict.batch_size",
                 "predict.warmup", "predict.error_scale", "predict.extra_error", "predict.extra_error_out_of_range",
                 "predict.time_window", "predict.period_range", "predict.mag_range",
                 *_WEIGHTS),  # the gate's weights (KDE of the development labels)
    ),
    "summary": StageParams(results=()),  # reads the stage reports, no params
}


def _covered(key: str, allowed: frozenset[str]) -> bool:
    parts = key.split(".")
    return any(".".join(parts[:i]) in allowed for i in range(1, len(parts) + 1))


def _leads_to(key: str, allowed: frozenset[str]) -> bool:
    return any(a.startswith(key + ".") for a in allowed)


@dataclass
class _Guard:
    stage: str
    allowed: frozenset[str]
    reads: set[str]

    def check(self, key: str, section: bool) -> None:
        if _covered(key, self.allowed):
            self.reads.add(key)
        elif not (section and _leads_to(key, self.allowed)):
            raise ConfigError(
                f"stage {self.stage} reads params key {key!r}, which it does not declare; add it to "
                f"rrlfeh.config.stages.STAGES[{self.stage!r}] (and, if it changes results, to the "
                "stage's params in dvc.yaml)"
            )


def _guarded_getattribute(self, name: str):
    value = object.__getattribute__(self, name)
    state = object.__getattribute__(self, "__dict__").get("_rrlfeh_guard")
    if state is not None and name in type(self).__dataclass_fields__:
        guard, path = state
        guard.check(f"{path}.{name}" if path else name, dataclasses.is_dataclass(value))
    return value


def _config_classes(cls: type, seen: set[type]) -> None:
    if cls in seen or not dataclasses.is_dataclass(cls):
        return
    seen.add(cls)
    for tp in typing.get_type_hints(cls).values():
        for arg in (tp, *typing.get_args(tp)):
            if isinstance(arg, type):
                _config_classes(arg, seen)


_CLASSES: set[type] = set()
_config_classes(Params, _CLASSES)
for _cls in _CLASSES:
    _cls.__getattribute__ = _guarded_getattribute  # checks reads only on objects `restrict` marked


def _mark(obj: Any, guard: _Guard, path: str) -> None:
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        return
    object.__setattr__(obj, "_rrlfeh_guard", (guard, path))
    for f in dataclasses.fields(obj):
        _mark(object.__getattribute__(obj, f.name), guard, f"{path}.{f.name}" if path else f.name)


def restrict(params: Params, stage: str, star_type: str | None = None) -> Params:
    """A copy of `params` that lets `stage` read only its declared keys (ConfigError otherwise).

    The set of keys read so far is `reads_of(restricted)`.
    """
    if star_type is None and any("{type}" in k for k in STAGES[stage].results):
        raise ValueError(f"stage {stage} reads per-type params; pass star_type")
    results, operational = STAGES[stage].keys(star_type)
    guarded = copy.deepcopy(params)
    _mark(guarded, _Guard(stage, frozenset(results + operational), set()), "")
    return guarded


def reads_of(params: Params) -> set[str]:
    """The keys read so far through a `restrict`ed Params."""
    return set(object.__getattribute__(params, "__dict__")["_rrlfeh_guard"][0].reads)


def value_at(params: Params, key: str) -> Any:
    obj: Any = params
    for part in key.split("."):
        obj = getattr(obj, part)
    return obj


def section_values(section: Any, stage: str, name: str, star_type: str | None = None) -> dict:
    """The fields of one params section (`name`, e.g. preprocess) that `stage` declares as results."""
    from rrlfeh.config.loader import to_dict

    keys = STAGES[stage].keys(star_type)[0]
    if name in keys:
        return to_dict(section)
    return {k[len(name) + 1:]: to_dict(getattr(section, k[len(name) + 1:]))
            for k in keys if k.startswith(name + ".") and "." not in k[len(name) + 1:]}


def declared(params: Params, stage: str, star_type: str | None = None) -> dict:
    """The stage's results keys and their values as a nested dict: what its MLflow runs log and
    its outputs record (the same keys dvc.yaml declares)."""
    from rrlfeh.config.loader import to_dict

    out: dict = {}
    for key in STAGES[stage].keys(star_type)[0]:
        *parents, leaf = key.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = to_dict(value_at(params, key))
    return out
