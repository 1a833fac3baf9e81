"""From the Gaia tables to the model's input rows, and from its output rows to the catalogue.

Pure functions shared by the local and Spark engines of `rrlfeh predict`. Every star that enters
leaves either in the catalogue or in the rejects table with one reason:
  no_epochs            in vari_rrlyrae, no epoch photometry rows at all (the detail says when a zip
                       held only a file of another DataLink product for the star)
  no_clean_g_epochs    rows, but no G transit with rejected_by_variability false and a finite mag
  not_in_vari_rrlyrae  epoch photometry of a star the vari_rrlyrae table does not have
  unreadable_epoch_file  the star's per-source epoch file (archive zip member) was unusable
  <sanity reason>      an impossible star (serving/sanity.py: bad_source_id, time_outside_window,
                       mag_outside_range, conflicting_epochs, period_outside_range), before the model
  <model reason>       the model's own per-star verdict (unknown_type, bad_period, invalid_input,
                       few_epochs, ...: serving/payload.py)
Every code, with what it tests: rrlfeh.core.reasons.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from rrlfeh.core import curve, schema
from rrlfeh.core import reasons as R
from rrlfeh.core.ragged import LightCurves
from rrlfeh.errors import DataError

STAGE = "predict"
MODEL_INPUT = list(curve.INPUT_COLUMNS)
MODEL_OUTPUT = list(curve.OUTPUT_COLUMNS)


def star_table(vari: pd.DataFrame) -> pd.DataFrame:
    """Conformed vari_rrlyrae -> source_id, ra, dec, type, period, epoch_g per star, by source_id.

    Type, period and epoch_g are passed on as they are: the model judges them per star
    (unknown_type, bad_period, invalid_input), exactly as it does for a served request.
    """
    dup = vari["source_id"].duplicated()
    if dup.any():
        raise DataError(f"vari_rrlyrae: {int(dup.sum())} duplicated source_id(s), e.g. "
                        f"{vari.loc[dup, 'source_id'].head(5).tolist()}")
    stars = pd.DataFrame({
        "source_id": vari["source_id"].to_numpy(dtype="int64"),
        "ra": vari["ra"].to_numpy(dtype="float64"), "dec": vari["dec"].to_numpy(dtype="float64"),
        "type": vari["best_classification"].astype("string").fillna("").to_numpy(dtype=object),
        "period": schema.period_of(vari).to_numpy(dtype="float64"),
        "epoch_g": vari["epoch_g"].to_numpy(dtype="float64"),
    })
    return stars.sort_values("source_id", ignore_index=True)


def chunk_rows(epochs: pd.DataFrame, stars: pd.DataFrame, bounds=None,
               tally: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """One conformed chunk of epoch photometry (whole stars) -> (model input rows, rejects, ids seen).

    With `bounds` (serving.sanity.Bounds) impossible stars are rejected here with their reason and
    exactly repeated epochs dropped (counted in `tally`), as the served model does: the same
    check, before the model, whatever model version runs. The chunk is not conformed again here
    (that would cost ~1.6 s per 5,000 stars). Each star is grouped and screened once, in the
    ragged layout; the model's per-star array cells are cut from it at the end.
    """
    sid = epochs["source_id"].to_numpy()
    seen, rows_per_star = np.unique(sid, return_counts=True)
    known = isin_sorted(seen, stars["source_id"].to_numpy())
    found = clean_curves(epochs, seen[known])
    lookup = stars.iloc[np.searchsorted(stars["source_id"].to_numpy(), found.source_id)]  # sorted
    found = dataclasses.replace(found, period=lookup["period"].to_numpy(dtype="float64"),
                                epoch=lookup["epoch_g"].to_numpy(dtype="float64"))
    types = lookup["type"].to_numpy(dtype=object)
    rejects = join_rejects(seen, rows_per_star, found.source_id, stars)
    if bounds is not None and len(found):
        found, types, impossible = screen_curves(found, types, bounds, tally)
        rejects = concat_rejects([rejects, impossible])
    return model_rows(found, types), rejects, seen


def model_rows(curves: LightCurves, types: np.ndarray) -> pd.DataFrame:
    """The model's input rows (core.curve.INPUT) of named light curves and their types."""
    return pd.DataFrame({
        "source_id": curves.source_id.astype("int64"),
        "type": types,
        "period": curves.period,
        "epoch_g": curves.epoch,
        "time": _objects(curves.times()), "mag": _objects(curves.mags()),
        "mag_error": _objects(curves.errors()),
    })


def screen_curves(curves: LightCurves, types: np.ndarray, bounds, tally: dict | None = None
                  ) -> tuple[LightCurves, np.ndarray, pd.DataFrame]:
    """Named light curves -> (the possible stars' curves, repeated epochs dropped; their types;
    rejects of the rest)."""
    from rrlfeh.serving.sanity import screen

    checked = screen(curves.source_id, curves, bounds)
    bad = checked.reason != ""
    if tally is not None:
        tally["duplicate_epochs_dropped"] = tally.get("duplicate_epochs_dropped", 0) + int(
            checked.n_duplicates.sum())
        tally["stars_with_duplicate_epochs"] = tally.get("stars_with_duplicate_epochs", 0) + int(
            (checked.n_duplicates > 0).sum())
    rejects = _rejects(curves.source_id[bad], checked.reason[bad],
                       _screen_detail(curves.take(np.flatnonzero(bad)), checked.reason[bad], bounds))
    good = np.flatnonzero(~bad)
    return checked.curves.take(good), types[good], rejects


def _screen_detail(curves: LightCurves, reason: np.ndarray, bounds) -> np.ndarray:
    """What was impossible, in a few words (the reject's detail), from the curves as they came."""
    what = {
        R.BAD_SOURCE_ID.code: lambda sid, t, m, p: f"source_id={sid}",
        R.TIME_OUTSIDE_WINDOW.code: lambda sid, t, m, p: (
            f"times {np.nanmin(t):.6g}..{np.nanmax(t):.6g}; "
            f"accepted {list(bounds.time_window)} (BJD(TCB)-2455197.5)"),
        R.MAG_OUTSIDE_RANGE.code: lambda sid, t, m, p: (f"mags {np.nanmin(m):.4g}..{np.nanmax(m):.4g}; "
                                                   f"accepted {list(bounds.mag_range)}"),
        R.CONFLICTING_EPOCHS.code: lambda sid, t, m, p: "epochs at the same time with different magnitudes",
        R.PERIOD_OUTSIDE_RANGE.code: lambda sid, t, m, p: f"period={p:.6g} d; accepted {list(bounds.period_range)}",
    }
    parts = zip(curves.source_id.tolist(), curves.times(), curves.mags(), curves.period, reason)
    return np.asarray([what[c](sid, t, m, p) for sid, t, m, p, c in parts], dtype=object)


def _objects(parts: list) -> np.ndarray:
    out = np.empty(len(parts), dtype=object)
    for i, p in enumerate(parts):
        out[i] = p
    return out


def clean_curves(epochs: pd.DataFrame, ids: np.ndarray) -> LightCurves:
    """Conformed epoch rows -> the light curves (named by source_id, ascending) of the stars of
    `ids` (sorted) that have clean epochs; period and epoch are left unknown (NaN).

    What goes in is what training used: the contract's usable epochs (core.curve: G transits not
    rejected_by_variability with a time and magnitude; an infinity is left to the sanity check),
    in time order, with their magnitude errors (NaN where the table has no flux_over_error).
    """
    sid = epochs["source_id"].to_numpy()
    use = curve.usable_epochs(epochs) & isin_sorted(sid, ids)
    s, t, m = sid[use], epochs["time"].to_numpy()[use], epochs["mag"].to_numpy()[use]
    e = curve.epoch_errors(epochs)[use]
    order = np.lexsort((t, s))
    s, t, m, e = s[order], t[order], m[order], e[order]
    uniq, counts = np.unique(s, return_counts=True)
    curves = LightCurves.from_counts(counts, t, m, error=e)
    return dataclasses.replace(curves, source_id=uniq.astype("int64"))


def join_rejects(seen: np.ndarray, rows_per_star: np.ndarray, sent: np.ndarray,
                 stars: pd.DataFrame) -> pd.DataFrame:
    """Stars settled before the model: epochs without a catalogue row, and catalogue stars with
    epoch rows of which none is a clean G transit. `seen`: source_ids with epoch rows (and their
    row counts); `sent`: source_ids given to the model."""
    known = isin_sorted(seen, stars["source_id"].to_numpy())
    no_g = seen[known & ~np.isin(seen, sent)]
    return concat_rejects([
        _rejects(seen[~known], R.NOT_IN_VARI_RRLYRAE.code,
                 np.char.add(np.asarray(rows_per_star)[~known].astype(str), " epoch rows")),
        _rejects(no_g, R.NO_CLEAN_G_EPOCHS.code,
                 "no G transit with rejected_by_variability=false and a finite mag"),
    ])


def empty_predicted() -> pd.DataFrame:
    """The predicted-rows table when no star reached the model."""
    dtypes = {"source_id": "int64", "feh": "float64", "feh_error": "float64", "feh_std": "float64", "n_epochs": "int64",
              "out_of_range": "bool", "out_of_range_reason": "object"}
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in dtypes.items()})


def split_output(rows: pd.DataFrame, out: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The model's output for `rows` -> (predicted stars, model rejects); checks the row contract."""
    missing = [c for c in MODEL_OUTPUT if c not in out.columns]
    if missing:
        raise DataError(f"the model's output lacks column(s) {missing}; got {list(out.columns)}")
    if len(out) != len(rows) or not np.array_equal(out["source_id"].to_numpy(np.int64),
                                                   rows["source_id"].to_numpy(np.int64)):
        raise DataError(f"the model returned {len(out)} rows for {len(rows)} stars, or in another order")
    out = out[MODEL_OUTPUT].reset_index(drop=True)
    ok = out["status"].astype(str).to_numpy() == "ok"
    bad = out[~ok]
    rejects = _rejects(bad["source_id"], bad["reason"].astype(str).to_numpy(),
                       "n_epochs=" + bad["n_epochs"].astype(str))
    return out[ok].drop(columns=["status", "reason"]), rejects


def missing_stars(stars: pd.DataFrame, seen: np.ndarray, issues: list = ()) -> pd.DataFrame:
    """Rejects for predictable stars that had no epoch photometry rows at all; the detail is the
    epoch reader's note when it has one (a zip held only another product's file for the star)."""
    ids = stars["source_id"].to_numpy()
    missing = ids[~isin_sorted(ids, np.unique(seen))]
    notes = {i.source_id: i.reason for i in issues if not i.unreadable}
    detail = [notes.get(int(s), "no epoch photometry rows for this source_id") for s in missing]
    return _rejects(missing, R.NO_EPOCHS.code, np.asarray(detail, dtype=object))


def assemble(predicted: pd.DataFrame, stars: pd.DataFrame,
             labels: pd.DataFrame | None) -> pd.DataFrame:
    """The catalogue: predictions with position, type and period, plus labels when there are any."""
    cat = predicted.merge(stars[["source_id", "ra", "dec", "type", "period"]], on="source_id",
                          how="left", validate="one_to_one")
    if labels is not None and len(labels):
        lab = labels.rename(columns={"feh": "feh_label", "feh_error": "feh_label_error"})
        cat = cat.merge(lab[["source_id", "feh_label", "feh_label_error"]], on="source_id", how="left",
                        validate="one_to_one")
    cat["out_of_range"] = cat["out_of_range"].astype(bool)
    cat["out_of_range_reason"] = cat["out_of_range_reason"].astype("string").fillna("").astype(str)
    cat["n_epochs"] = cat["n_epochs"].astype("int32")
    return cat.sort_values("source_id", ignore_index=True)


def reconcile(stars: pd.DataFrame, seen: np.ndarray, catalogue: pd.DataFrame,
              rejects: pd.DataFrame) -> dict:
    """Counts that must add up: every star in (catalogue rows and stars with epoch rows) is
    predicted or rejected, exactly once."""
    ids = np.concatenate([catalogue["source_id"].to_numpy(), rejects["source_id"].to_numpy()])
    uniq, n = np.unique(ids, return_counts=True)
    if (n > 1).any():
        raise DataError(f"source_id(s) {uniq[n > 1][:5].tolist()} came out more than once")
    n_vari = len(stars)
    n_orphans = int((~isin_sorted(np.unique(seen), stars["source_id"].to_numpy())).sum())
    counts = {
        "stars_in": n_vari + n_orphans,
        "stars_in_vari_rrlyrae": n_vari,
        "stars_only_in_epoch_photometry": n_orphans,
        "stars_predicted": int(len(catalogue)),
        "stars_rejected": int(len(rejects)),
        "stars_out_of_range": int(catalogue["out_of_range"].sum()),
        "rejected_by_reason": {str(k): int(v) for k, v in
                               rejects["reason"].value_counts().sort_index().items()},
    }
    counts["reconciled"] = (counts["stars_in"] == counts["stars_predicted"] + counts["stars_rejected"]
                            and np.array_equal(uniq, np.union1d(stars["source_id"], seen)))
    if not counts["reconciled"]:
        raise DataError(f"counts do not reconcile: {counts}")
    return counts


def issue_rejects(issues: list) -> tuple[pd.DataFrame, np.ndarray]:
    """Stars whose per-source epoch file could not be read (rrlfeh.sources.files issues):
    (rejects, their source_ids). A file not named for one star leaves its stars to no_epochs, and
    so do notes that are not failures (missing_stars tells them)."""
    failed = [i for i in issues if i.source_id is not None and i.unreadable]
    ids = [i.source_id for i in failed]
    details = [i.reason if i.reason.startswith(i.file) else f"{i.file}: {i.reason}" for i in failed]
    return (_rejects(ids, R.UNREADABLE_EPOCH_FILE.code, np.asarray(details, dtype=object)),
            np.asarray(ids, dtype="int64"))


def concat_rejects(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    return schema.conform(pd.concat(parts, ignore_index=True), "rejected") if parts \
        else schema.empty("rejected")


def _rejects(ids, reason, detail) -> pd.DataFrame:
    ids = np.asarray(ids, dtype="int64")
    if not len(ids):
        return schema.empty("rejected")
    detail = np.asarray(detail, dtype=object) if not isinstance(detail, str) else detail
    return schema.conform(pd.DataFrame({"source_id": ids, "stage": STAGE, "reason": reason,
                                        "detail": detail}), "rejected")


def isin_sorted(values: np.ndarray, sorted_ref: np.ndarray) -> np.ndarray:
    """np.isin for a sorted reference array (a binary search: O(n log m), no hashing)."""
    if not len(sorted_ref):
        return np.zeros(len(values), dtype=bool)
    pos = np.searchsorted(sorted_ref, values).clip(max=len(sorted_ref) - 1)
    return sorted_ref[pos] == values
