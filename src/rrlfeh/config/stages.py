"""Which params.yaml keys each pipeline stage reads, declared once, per key.

`results` are the keys a stage's outputs depend on: dvc.yaml declares exactly these under the
stage's `params` (tests/structure/test_stage_params.py compares them), so changing one reruns the
stage. `operational` are knobs the stage also reads that by design do not change its outputs
(worker processes, chunk sizes, network retries): dvc.yaml leaves them out, so changing them
reruns nothing. `{type}` stands for the star type of a per-type stage (preprocess@rrab reads
`preprocess.n_points_rrab`).

The CLI hands each stage its params through `restrict`, a view (rrlfeh.config.views) on which
reading a key outside both lists raises ConfigError naming it, so a stage cannot start depending
on a key dvc.yaml does not declare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rrlfeh.config.params import Params
from rrlfeh.config.views import ConfigView, Guard

_GAIA_RESULTS = ("tap_server", "data_server", "vari_table", "source_table", "where", "source_ids", "top",
                 "tap_mode", "data_release", "datalink_format", "valid_data", "batch_size", "labels",
                 "labels_columns")
_CURVE = ("preprocess.n_points_{type}", "preprocess.smoothing", "preprocess.n_knots",
          "preprocess.min_epochs", "preprocess.max_phase_gap", "preprocess.epoch_weights",
          "preprocess.curve_model", "preprocess.fourier_harmonics", "preprocess.fourier_epochs_per_parameter")
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
        results=("seed", "split", "model", *(f"tune.{k}" for k in _TUNE), "fit", "finetune.from_model", *_WEIGHTS),
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
                 "predict.epoch_weights", *_WEIGHTS),  # the gate's weights (KDE of the development labels)
    ),
    "summary": StageParams(results=()),  # reads the stage reports, no params
}


def restrict(params: Params, stage: str, star_type: str | None = None) -> ConfigView:
    """`stage`'s view of `params`: it reads its declared keys (results and operational) as Params
    does; any other raises ConfigError naming the key. `reads_of(view)` lists the keys read."""
    if star_type is None and any("{type}" in k for k in STAGES[stage].results):
        raise ValueError(f"stage {stage} reads per-type params; pass star_type")
    results, operational = STAGES[stage].keys(star_type)
    return ConfigView(params, Guard(stage, frozenset(results + operational), set()))


def reads_of(view: ConfigView) -> set[str]:
    """The keys read so far through a `restrict`ed view."""
    return view.view_reads()


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
