"""The promotion gate: score models end to end on the held-out test split and compare wRMSE.

End to end means what a user sends: the raw G light curves of the test stars from data/clean go
through the registered pyfunc (preprocessing included), not the training tensors. The test stars
weigh what they weigh in the train stage's test metrics (features.weights.split_weights of the
development labels, the processed npz minus the test ids, at the test labels), so the two stages'
test wRMSEs differ only where their predictions do.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rrlfeh.core import curve, schema
from rrlfeh.errors import DataError
from rrlfeh.features.weights import split_weights
from rrlfeh.model.metrics import regression_metrics
from rrlfeh.serving import payload

EPOCH_COLUMNS = list(curve.EPOCH_COLUMNS)


@dataclass(frozen=True)
class ScoringSet:
    """The test stars of one type: model input rows, labels, weights and a content digest."""

    star_type: str
    inputs: pd.DataFrame
    y: np.ndarray
    w: np.ndarray
    digest: str


def digest_of(inputs: pd.DataFrame, y: np.ndarray, w: np.ndarray) -> str:
    """md5 of everything that decides a score: ids, light curves, labels, weights."""
    h = hashlib.md5()
    h.update(inputs["source_id"].to_numpy(np.int64).tobytes())
    h.update(np.asarray(y, np.float64).tobytes())
    h.update(np.round(np.asarray(w, np.float64), 12).tobytes())
    for col in ("period", "epoch_g"):
        h.update(inputs[col].to_numpy(np.float64).tobytes())
    errors = inputs["mag_error"] if "mag_error" in inputs.columns else [np.empty(0)] * len(inputs)
    for t, m, e in zip(inputs["time"], inputs["mag"], errors):
        h.update(np.asarray(t, np.float64).tobytes())
        h.update(np.asarray(m, np.float64).tobytes())
        h.update(np.asarray(e, np.float64).tobytes())
    return h.hexdigest()


def _read_test_epochs(path: Path, ids: np.ndarray) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"epoch_photometry: file {path} does not exist")
    try:  # only the test stars' rows: the table can hold millions
        df = pd.read_parquet(path, columns=EPOCH_COLUMNS, filters=[("source_id", "in", ids.tolist())])
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise DataError(f"epoch_photometry: cannot read {path} ({exc})") from exc
    return schema.conform(df, "epoch_photometry")


def test_weights(npz_path: Path, ids: np.ndarray, kde_alpha: float,
                 kde_max_weight: float = float("inf")) -> np.ndarray:
    """The weights of the test stars `ids`, as the train stage computes them: the same labels (the
    npz's float32 ones) of the same development stars (every labelled star not in `ids`), in the
    same order, so the two are equal to the bit."""
    with np.load(npz_path) as npz:
        source_id, y = npz["source_id"], npz["y"]
    rows = {int(s): i for i, s in enumerate(source_id)}
    missing = [int(s) for s in ids if int(s) not in rows]
    at = np.array([rows.get(int(s), 0) for s in ids], dtype=np.int64)
    if missing or not np.isfinite(y[at]).all():
        raise DataError(f"{npz_path}: test stars absent or unlabelled, e.g. source_id "
                        f"{(missing or ids[~np.isfinite(y[at])].tolist())[:5]}: models and npz disagree")
    dev = ~np.isin(source_id, ids) & np.isfinite(y)
    if dev.sum() < 2:
        raise DataError(f"{npz_path}: fewer than 2 labelled development stars")
    return split_weights(y[dev], y[at], kde_alpha, kde_max_weight)[1].astype(np.float64)


def build_scoring_sets(manifests: dict[str, dict], processed_dir: Path, clean_dir: Path,
                       kde_alpha: float, kde_max_weight: float = float("inf")) -> dict[str, ScoringSet]:
    """The test split of every type in `manifests` (their test_source_ids), read from data/clean."""
    vari = schema.read_table(clean_dir / "vari_rrlyrae.parquet", "vari_rrlyrae")
    labels = schema.read_table(clean_dir / "labels.parquet", "labels").set_index("source_id")
    test_ids = {t: np.asarray(m.get("test_source_ids") or [], np.int64) for t, m in manifests.items()}
    all_ids = np.concatenate([*test_ids.values(), np.empty(0, np.int64)])
    epochs = _read_test_epochs(clean_dir / "epoch_photometry.parquet", all_ids)
    sets = {}
    for star_type, ids in test_ids.items():
        if ids.size == 0:
            raise DataError(f"models/{star_type}/manifest.json has no test_source_ids: nothing to gate on")
        absent = ids[~np.isin(ids, vari["source_id"]) | ~np.isin(ids, labels.index)]
        if absent.size:
            raise DataError(
                f"{absent.size} {star_type} test stars are missing from {clean_dir} (vari_rrlyrae or "
                f"labels), e.g. source_id {absent[:5].tolist()}: models and data/clean disagree"
            )
        rows = vari.set_index("source_id").loc[ids].reset_index()
        inputs = payload.model_input_from_tables(rows, epochs)
        y = labels.loc[ids, "feh"].to_numpy(np.float64)
        w = test_weights(processed_dir / f"{star_type}.npz", ids, kde_alpha, kde_max_weight)
        sets[star_type] = ScoringSet(star_type, inputs, y, w, digest_of(inputs, y, w))
    return sets


def score(model, sset: ScoringSet) -> dict:
    """regression_metrics of `model` (a loaded pyfunc) on one scoring set, plus star counts.

    Stars the model rejects are counted, not scored; wRMSE is NaN when it scores none.
    """
    out = model.predict(sset.inputs)
    ok = (out["status"] == "ok").to_numpy()
    if ok.any():
        metrics = {k: float(v) for k, v in
                   regression_metrics(sset.y[ok], out["feh"].to_numpy()[ok], sset.w[ok]).items()}
    else:
        metrics = {k: math.nan for k in ("r2", "wrmse", "wmae", "rmse", "mae")}
    reasons = out.loc[~ok, "reason"].value_counts().to_dict()
    return {**metrics, "n_test": int(len(ok)), "n_scored": int(ok.sum()),
            "n_rejected": int((~ok).sum()), "rejected_reasons": {str(k): int(v) for k, v in reasons.items()},
            "digest": sset.digest}


def unchanged_types(manifests: dict[str, dict]) -> dict[str, str]:
    """Types a fine-tuning run left as its base model (no labelled star of them): type -> the base
    model's registry version ('' for a folder). They have no test stars to be judged on."""
    out = {}
    for star_type, m in manifests.items():
        ft = m.get("finetune") or {}
        if ft.get("kept_base"):
            out[star_type] = str(ft.get("model_version") or "")
    return out


def decide(challenger: dict[str, dict], champion: dict[str, dict] | None, tolerance: float,
           unchanged: dict[str, str] | None = None,
           champion_version: str | None = None) -> tuple[bool, str]:
    """Promote when there is no champion, or when for every type the challenger's wRMSE is no
    worse than the champion's plus `tolerance`. A type the champion cannot score counts as won;
    a challenger that scores no star of a type, or has no model for a type the champion serves,
    loses it. A type in `unchanged` (type -> base version: a fine-tuning run without labels of it)
    is not judged when its base is the champion itself, and loses otherwise (nothing shows it is
    as good). Returns (promote, reason)."""
    if champion is None:
        return True, "no champion yet: the first registered model becomes champion"
    verdicts, losses = [], []
    for star_type, base in sorted((unchanged or {}).items()):
        if base and base == champion_version:
            verdicts.append(f"{star_type}: the champion's own folds, unchanged (not judged)")
        else:
            verdicts.append(f"{star_type}: unchanged from {base or 'a folder model'}, which is not "
                            "the champion, and no test star to judge it")
            losses.append(star_type)
    for star_type in sorted(set(champion) - set(challenger) - set(unchanged or {})):
        verdicts.append(f"{star_type}: served by the champion, no model in the challenger")
        losses.append(star_type)
    for star_type, chal in sorted(challenger.items()):
        new = chal["wrmse"]
        old = (champion.get(star_type) or {}).get("wrmse", math.nan)
        if math.isnan(old):
            verdicts.append(f"{star_type}: champion scores none, challenger {new:.4f}")
            continue
        won = not math.isnan(new) and new <= old + tolerance
        verdicts.append(f"{star_type}: wRMSE {new:.4f} vs champion {old:.4f}")
        if not won:
            losses.append(star_type)
    summary = "; ".join(verdicts) + f" (tolerance {tolerance:g})"
    if losses:
        return False, f"challenger worse for {', '.join(losses)}: {summary}"
    return True, f"challenger no worse for every type: {summary}"
