"""The paper's selection cuts as pure functions: per-star facts in, one reason per rejected star out.

A star is every source_id seen in any raw table. `CUTS` is ordered: structural problems first
(the star cannot be processed at all), then labels, then light-curve quality. A star failing several
cuts is recorded under the first one in this order; `failing_each_cut` counts every cut's failures
regardless of order (a star may count under several).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rrlfeh.config.data import CleanConfig
from rrlfeh.core import curve, schema
from rrlfeh.core import reasons as R

# what each cut tests: rrlfeh.core.reasons (the registry of every reject reason)
CUTS: tuple[str, ...] = R.codes(
    R.NOT_IN_VARI_RRLYRAE, R.DUPLICATE_SOURCE_ID, R.UNKNOWN_CLASSIFICATION, R.TYPE_NOT_SELECTED,
    R.BAD_PERIOD, R.MISSING_EPOCH_G, R.NO_EPOCHS, R.DUPLICATE_TRANSITS, R.NO_LABEL,
    R.DUPLICATE_LABEL, R.FEH_ERROR, R.PEAK_TO_PEAK_G, R.TOO_FEW_CLEAN_EPOCHS, R.PHI31_G_ERROR,
)
LABEL_CUTS = R.codes(R.NO_LABEL, R.DUPLICATE_LABEL, R.FEH_ERROR)


def star_facts(vari: pd.DataFrame, counts: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """One row per source_id in any table (index source_id): everything the cuts look at.

    `counts`: the epoch table's rows per star (`epoch_counts`, one row per star with epochs).
    """
    ids = pd.Index(
        pd.unique(np.concatenate([vari["source_id"].unique(), counts.index.to_numpy(),
                                  labels["source_id"].unique()])),
        name="source_id", dtype="int64",
    ).sort_values()
    first = vari.drop_duplicates("source_id").set_index("source_id")
    cls = first["best_classification"].astype(object).where(first["best_classification"].notna(), "")
    facts = pd.DataFrame(index=ids)
    facts["n_vari_rows"] = vari["source_id"].value_counts().reindex(ids, fill_value=0)
    facts["in_vari"] = facts["n_vari_rows"] > 0
    facts["best_classification"] = cls.reindex(ids, fill_value="").astype(str)
    facts["period"] = schema.period_of(first).reindex(ids)
    for col in ("epoch_g", "peak_to_peak_g", "phi31_g_error"):
        facts[col] = first[col].reindex(ids)
    facts = facts.join(counts.reindex(ids, fill_value=0))
    lab = labels.drop_duplicates("source_id").set_index("source_id")
    facts["n_label_rows"] = labels["source_id"].value_counts().reindex(ids, fill_value=0)
    facts["feh"] = lab["feh"].reindex(ids)
    facts["feh_error"] = lab["feh_error"].reindex(ids)
    return facts


def fill_feh_error(labels: pd.DataFrame, default: float | None) -> tuple[pd.DataFrame, int]:
    """Labels with a missing feh_error given `default` (None: left missing); how many were filled."""
    missing = labels["feh_error"].isna()
    if default is None or not missing.any():
        return labels, 0
    return labels.assign(feh_error=labels["feh_error"].fillna(default)), int(missing.sum())


def g_rows(epochs: pd.DataFrame) -> np.ndarray:
    """Rows of a conformed epoch table in the G band (a missing band is not G)."""
    return curve.in_band(epochs["band"])


def clean_g_rows(epochs: pd.DataFrame) -> np.ndarray:
    """Clean G epochs, what the min_clean_epochs cut counts: the contract's usable epochs
    (core.curve) with a finite magnitude (training data hold no infinity at all)."""
    return curve.usable_epochs(epochs) & np.isfinite(epochs["mag"].to_numpy(dtype=float))


def epoch_counts(epochs: pd.DataFrame) -> pd.DataFrame:
    """Rows per star (all, exact repeats, then among the rest: G, clean G, flagged G,
    NaN-magnitude G, rows of conflicting duplicated transits).

    Duplicates are found within `epochs`: give whole stars (chunks of whole stars may be
    counted one by one and concatenated)."""
    rest = ~repeated_rows(epochs)
    g = g_rows(epochs) & rest
    flagged = epochs[curve.FLAG].to_numpy(dtype=bool)
    finite = np.isfinite(epochs["mag"].to_numpy(dtype=float))
    star, ids = pd.factorize(epochs["source_id"].to_numpy())
    conflicts = np.zeros(len(epochs), dtype=bool)
    conflicts[rest] = duplicate_transits(epochs[rest])
    masks = {
        "n_rows": np.ones(len(epochs), dtype=bool), "n_repeated_rows": ~rest,
        "n_g": g, "n_clean_g": clean_g_rows(epochs) & rest,
        "n_flagged_g": g & flagged, "n_nan_mag_g": g & ~finite,
        "n_duplicate_rows": conflicts,
    }
    # bincount over factorized ids: several times faster than a pandas groupby on 10^7 rows
    return pd.DataFrame({k: np.bincount(star[m], minlength=len(ids)) for k, m in masks.items()},
                        index=pd.Index(ids, name="source_id"), dtype="int64")


REPEAT_KEY = ["source_id", "band", "transit_id", "time", "mag"]


def repeated_rows(epochs: pd.DataFrame) -> np.ndarray:
    """Rows that repeat an earlier row of the star exactly (transit, band, time, magnitude: a file
    concatenated twice). They are dropped and counted, never counted twice: the same rule as
    `rrlfeh predict` and the served model (serving/sanity.py)."""
    return epochs.duplicated(subset=REPEAT_KEY, keep="first").to_numpy()


def duplicate_transits(epochs: pd.DataFrame) -> np.ndarray:
    """Rows whose (source_id, transit_id, band) occurs more than once; rows without transit_id
    (-1, a user file that lacks the column) are never duplicates."""
    band, _ = pd.factorize(epochs["band"])
    keys = (band, epochs["transit_id"].to_numpy(), epochs["source_id"].to_numpy())
    order = np.lexsort(keys)  # sort-and-compare-neighbours: cheaper than a hash on three columns
    same = np.ones(len(order) - 1 if len(order) else 0, dtype=bool)
    for key in keys:
        k = key[order]
        same &= k[1:] == k[:-1]
    dup_sorted = np.zeros(len(order), dtype=bool)
    dup_sorted[1:] |= same
    dup_sorted[:-1] |= same
    dup = np.empty_like(dup_sorted)
    dup[order] = dup_sorted
    return dup & (epochs["transit_id"].to_numpy() >= 0)


def phi31_cut_applies(facts: pd.DataFrame) -> bool:
    """False when no RRab of the input has phi31_g_error at all (a catalogue made outside the SOS
    pipeline, e.g. the user's own fits): the cut is then skipped and reported, like the label cuts.
    A value missing for some stars only is a per-star failure."""
    rrab = facts["best_classification"] == "RRab"
    return bool(np.isfinite(facts.loc[rrab, "phi31_g_error"].to_numpy(dtype=float)).any()) or not rrab.any()


def feh_error_cut_applies(facts: pd.DataFrame) -> bool:
    """False when no label has a feh_error (a catalogue that publishes none, like the paper's own
    photometric [Fe/H]): the cut is then skipped and reported instead of rejecting every star.
    clean.default_feh_error fills missing errors first, where the user prefers that."""
    labelled = facts["n_label_rows"] > 0
    return bool(np.isfinite(facts.loc[labelled, "feh_error"].to_numpy(dtype=float)).any()) or not labelled.any()


def failures(facts: pd.DataFrame, cfg: CleanConfig, labelled: bool) -> pd.DataFrame:
    """Boolean frame (stars x CUTS): does the star fail the cut? Label cuts are False when unlabelled."""
    cls = facts["best_classification"]
    phi31_cut = phi31_cut_applies(facts)
    error_cut = feh_error_cut_applies(facts)
    known = cls.isin(schema.TYPES)
    selected = cls.isin(cfg.types)
    has_label = (facts["n_label_rows"] > 0) & np.isfinite(facts["feh"])
    fails = {
        R.NOT_IN_VARI_RRLYRAE.code: ~facts["in_vari"],
        R.DUPLICATE_SOURCE_ID.code: facts["n_vari_rows"] > 1,
        R.UNKNOWN_CLASSIFICATION.code: facts["in_vari"] & ~known,
        R.TYPE_NOT_SELECTED.code: known & ~selected,
        # comparisons with NaN are False, so missing values fail the "keep if" tests below
        R.BAD_PERIOD.code: selected & ~((facts["period"] > 0) & np.isfinite(facts["period"])),
        R.MISSING_EPOCH_G.code: facts["in_vari"] & ~np.isfinite(facts["epoch_g"]),
        R.NO_EPOCHS.code: facts["n_rows"] == 0,
        R.DUPLICATE_TRANSITS.code: facts["n_duplicate_rows"] > 0,
        R.NO_LABEL.code: labelled & ~has_label,
        R.DUPLICATE_LABEL.code: labelled & (facts["n_label_rows"] > 1),
        R.FEH_ERROR.code: error_cut & labelled & has_label & ~(facts["feh_error"] < cfg.max_feh_error),
        R.PEAK_TO_PEAK_G.code: facts["in_vari"] & ~(facts["peak_to_peak_g"] < cfg.max_peak_to_peak_g),
        R.TOO_FEW_CLEAN_EPOCHS.code: facts["n_clean_g"] < cfg.min_clean_epochs,
        R.PHI31_G_ERROR.code: phi31_cut & (cls == "RRab") & ~(facts["phi31_g_error"] < cfg.max_phi31_error_rrab),
    }
    return pd.DataFrame({k: np.asarray(fails[k], dtype=bool) for k in CUTS}, index=facts.index)


def first_failure(fails: pd.DataFrame) -> pd.Series:
    """The first failed cut in CUTS order per star; '' for stars that pass every cut."""
    values = fails[list(CUTS)].to_numpy()
    reason = np.asarray(CUTS, dtype=object)[values.argmax(axis=1)]
    return pd.Series(np.where(values.any(axis=1), reason, ""), index=fails.index, dtype=object)


def _fmt(values: pd.Series, spec: str = "{:.4g}") -> pd.Series:
    return values.map(lambda v: "missing" if pd.isna(v) else spec.format(v)).astype(str)


def details(facts: pd.DataFrame, reason: pd.Series, cfg: CleanConfig) -> pd.Series:
    """A short human-readable detail for each rejected star (rows with reason == '' get '')."""
    out = pd.Series("", index=facts.index, dtype=object)
    for cut in CUTS:
        rows = reason.index[reason.to_numpy() == cut]
        if len(rows):
            out.loc[rows] = _detail(cut, facts.loc[rows], cfg).to_numpy()
    return out


def _detail(cut: str, f: pd.DataFrame, cfg: CleanConfig) -> pd.Series:
    cls = f["best_classification"]
    if cut == R.NOT_IN_VARI_RRLYRAE.code:
        has_e, has_l = f["n_rows"] > 0, f["n_label_rows"] > 0
        return pd.Series(np.where(has_e & has_l, "has epochs and a label",
                                  np.where(has_e, "has epochs", "has a label")), index=f.index)
    if cut == R.DUPLICATE_SOURCE_ID.code:
        return f["n_vari_rows"].astype(str) + " rows in vari_rrlyrae"
    if cut in R.codes(R.UNKNOWN_CLASSIFICATION, R.TYPE_NOT_SELECTED):
        return "best_classification=" + cls.where(cls != "", "missing") + f"; kept: {list(cfg.types)}"
    if cut == R.BAD_PERIOD.code:
        col = cls.map(schema.PERIOD_COLUMN).astype(str)
        return col + "=" + _fmt(f["period"])
    if cut == R.MISSING_EPOCH_G.code:
        return pd.Series("epoch_g missing", index=f.index)
    if cut == R.NO_EPOCHS.code:
        return pd.Series("no rows in epoch_photometry", index=f.index)
    if cut == R.DUPLICATE_TRANSITS.code:
        return (f["n_duplicate_rows"].astype(str)
                + " rows share a (transit_id, band) with another time or magnitude")
    if cut == R.NO_LABEL.code:
        return pd.Series(np.where(f["n_label_rows"] > 0, "feh missing", "not in labels"),
                         index=f.index)
    if cut == R.DUPLICATE_LABEL.code:
        return f["n_label_rows"].astype(str) + " rows in labels"
    if cut == R.FEH_ERROR.code:
        return "feh_error=" + _fmt(f["feh_error"]) + f" (keep < {cfg.max_feh_error})"
    if cut == R.PEAK_TO_PEAK_G.code:
        return "peak_to_peak_g=" + _fmt(f["peak_to_peak_g"]) + f" (keep < {cfg.max_peak_to_peak_g})"
    if cut == R.TOO_FEW_CLEAN_EPOCHS.code:
        return (f["n_clean_g"].astype(str) + " clean G epochs of " + f["n_g"].astype(str)
                + f" G rows (keep >= {cfg.min_clean_epochs})")
    if cut == R.PHI31_G_ERROR.code:
        return "phi31_g_error=" + _fmt(f["phi31_g_error"]) + f" (keep < {cfg.max_phi31_error_rrab})"
    raise KeyError(cut)
