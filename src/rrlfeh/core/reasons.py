"""Every reason a star can be rejected for, defined once: its code, the stages that emit it, what
was tested and what the detail says.

The stages write `Reason.code` into the `reason` column of their rejects tables (clean:
data/clean/rejected.parquet; preprocess: data/processed/{type}_rejected.parquet; `rrlfeh predict`:
catalogue_rejected.parquet), the served model into its output's `reason` column, and extract
prefixes the cause of each id in `ids_missing` with one. Emitters use the constants below, never a
string literal (tests/structure/test_reasons.py), so that a code leads here and here to its
emitters. A code means one test; where stages apply it with their own threshold, `meaning` says so.
The README's table of reasons is `markdown_table()` (the same test keeps them equal).
"""

from __future__ import annotations

from dataclasses import dataclass

STAGES = ("extract", "clean", "preprocess", "predict", "serve")
_MODEL = ("preprocess", "predict", "serve")  # the curve checks of features/tensors.py
_SCREEN = ("predict", "serve")  # serving/sanity.py and serving/payload.py, before the model


@dataclass(frozen=True)
class Reason:
    code: str
    stages: tuple[str, ...]  # where it can be emitted (STAGES)
    meaning: str  # what failed
    detail: str  # what the rejects table's `detail` holds for it
    emitter: str  # the module that tests it (under src/rrlfeh)


# clean (quality/cuts.py), in the order the cuts are tested
NOT_IN_VARI_RRLYRAE = Reason(
    "not_in_vari_rrlyrae", ("clean", "predict"), "epochs or a label of a star that vari_rrlyrae lacks",
    "what the star has (epochs, a label; predict: its epoch row count)",
    "quality/cuts.py, serving/star_rows.py")
DUPLICATE_SOURCE_ID = Reason(
    "duplicate_source_id", ("clean",), "several vari_rrlyrae rows: which one is right is unknowable",
    "the row count", "quality/cuts.py")
UNKNOWN_CLASSIFICATION = Reason(
    "unknown_classification", ("clean",), "best_classification is not RRab, RRc or RRd (or missing)",
    "the class and the kept types", "quality/cuts.py")
TYPE_NOT_SELECTED = Reason(
    "type_not_selected", ("clean",), "a known class outside clean.types (RRd by default)",
    "the class and the kept types", "quality/cuts.py")
BAD_PERIOD = Reason(
    "bad_period", ("clean", *_MODEL), "the type's period (pf for RRab, p1_o for RRc) is missing, "
    "not finite or not positive", "clean: the period column and value; preprocess: the test",
    "quality/cuts.py, features/tensors.py")
MISSING_EPOCH_G = Reason(
    "missing_epoch_g", ("clean",), "no epoch_g (time of maximum): the curve cannot be folded "
    "(preprocess tests the same as bad_epoch)", "epoch_g missing", "quality/cuts.py")
NO_EPOCHS = Reason(
    "no_epochs", ("extract", "clean", "predict"), "no epoch photometry rows at all (extract lists "
    "the id in ids_missing with the cause)", "the cause, where the reader knows one",
    "quality/cuts.py, serving/star_rows.py, sources/files.py, sources/gaia_archive.py")
DUPLICATE_TRANSITS = Reason(
    "duplicate_transits", ("clean",), "two rows share a (transit_id, band) with another time or "
    "magnitude (rows repeated exactly are dropped, not rejected)", "the conflicting row count",
    "quality/cuts.py")
NO_LABEL = Reason(
    "no_label", ("clean",), "a labels table is given but has no finite [Fe/H] for the star",
    "feh missing, or not in labels", "quality/cuts.py")
DUPLICATE_LABEL = Reason(
    "duplicate_label", ("clean",), "several label rows", "the row count", "quality/cuts.py")
FEH_ERROR = Reason(
    "feh_error", ("clean",), "feh_error >= clean.max_feh_error (or missing)", "the value and the cut",
    "quality/cuts.py")
PEAK_TO_PEAK_G = Reason(
    "peak_to_peak_g", ("clean",), "peak_to_peak_g >= clean.max_peak_to_peak_g (or missing)",
    "the value and the cut", "quality/cuts.py")
TOO_FEW_CLEAN_EPOCHS = Reason(
    "too_few_clean_epochs", ("clean",), "fewer clean G epochs (not rejected_by_variability, finite "
    "mag) than clean.min_clean_epochs", "the clean and all G epoch counts", "quality/cuts.py")
PHI31_G_ERROR = Reason(
    "phi31_g_error", ("clean",), "RRab only: phi31_g_error >= clean.max_phi31_error_rrab (or "
    "missing)", "the value and the cut", "quality/cuts.py")

# the curve checks (features/tensors.py), in the order they are tested; the served model runs them
BAD_EPOCH = Reason(
    "bad_epoch", _MODEL, "epoch_g missing: phase 0 would not be maximum light",
    "the test and n_epochs", "features/tensors.py")
FEW_EPOCHS = Reason(
    "few_epochs", _MODEL, "fewer finite G epochs than min_epochs (preprocess.min_epochs in "
    "training; predict.min_epochs, never below it, in serving)", "the test and n_epochs",
    "features/tensors.py")
CONSTANT_MAGNITUDES = Reason(
    "constant_magnitudes", _MODEL, "all G magnitudes equal: nothing to standardize",
    "the test and n_epochs", "features/tensors.py")
POOR_PHASE_COVERAGE = Reason(
    "poor_phase_coverage", _MODEL, "the largest gap between folded phases exceeds "
    "preprocess.max_phase_gap", "the test and n_epochs", "features/tensors.py")
SPLINE_FAILED = Reason(
    "spline_failed", _MODEL, "the curve fit (spline or Fourier series, preprocess.curve_model) gave a non-finite or flat curve",
    "the test and n_epochs", "features/tensors.py")

# impossible stars (serving/sanity.py), in the order they are tested
BAD_SOURCE_ID = Reason(
    "bad_source_id", _SCREEN, "source_id outside 1 .. 2**63-1", "the source_id",
    "serving/sanity.py")
TIME_OUTSIDE_WINDOW = Reason(
    "time_outside_window", _SCREEN, "an epoch time infinite or outside predict.time_window",
    "the times and the window", "serving/sanity.py")
MAG_OUTSIDE_RANGE = Reason(
    "mag_outside_range", _SCREEN, "a G magnitude infinite or outside predict.mag_range",
    "the magnitudes and the range", "serving/sanity.py")
CONFLICTING_EPOCHS = Reason(
    "conflicting_epochs", _SCREEN, "two epochs at the same time with different magnitudes (exact "
    "repeats are dropped and counted)", "the test", "serving/sanity.py")
PERIOD_OUTSIDE_RANGE = Reason(
    "period_outside_range", _SCREEN, "a finite, positive period outside predict.period_range "
    "(missing or <= 0 is bad_period)", "the period and the range", "serving/sanity.py")

# the request and the model (serving/payload.py, serving/pyfunc.py)
INVALID_INPUT = Reason(
    "invalid_input", _SCREEN, "time and mag are not two equally long lists of numbers, or no "
    "epoch is left", "n_epochs", "serving/payload.py")
UNKNOWN_TYPE = Reason(
    "unknown_type", _SCREEN, "the type is not RRab or RRc, or the model has no network for it",
    "n_epochs", "serving/payload.py, serving/pyfunc.py")

# the batch reader of `rrlfeh predict` (serving/star_rows.py)
NO_CLEAN_G_EPOCHS = Reason(
    "no_clean_g_epochs", ("predict",), "epoch rows, but no G transit with "
    "rejected_by_variability false and a finite mag", "the test", "serving/star_rows.py")
UNREADABLE_EPOCH_FILE = Reason(
    "unreadable_epoch_file", ("extract", "predict"), "the star's per-source epoch file (an "
    "archive zip member) could not be used", "the file and what was wrong with it",
    "serving/star_rows.py, sources/files.py, sources/gaia_archive.py")

# every Reason above, in definition order (the README table's); a second one with a code already
# taken fails registry() below, and tests/structure/test_reasons.py reads this file for the rest
ALL: tuple[Reason, ...] = tuple(v for v in dict(globals()).values() if isinstance(v, Reason))


def registry(reasons: tuple[Reason, ...] = ALL) -> dict[str, Reason]:
    """code -> Reason; ValueError for a code defined twice or a stage not in STAGES."""
    out: dict[str, Reason] = {}
    for r in reasons:
        if r.code in out:
            raise ValueError(f"reject reason {r.code!r} is defined twice")
        unknown = sorted(set(r.stages) - set(STAGES))
        if unknown or not r.stages:
            raise ValueError(f"reject reason {r.code!r}: stages {list(r.stages)} not among {STAGES}")
        out[r.code] = r
    return out


REASONS: dict[str, Reason] = registry()


def codes(*reasons: Reason) -> tuple[str, ...]:
    """The codes of `reasons`, in order (a stage's tuple of what it tests)."""
    return tuple(r.code for r in reasons)


def of_stage(stage: str) -> tuple[str, ...]:
    """Every code `stage` can emit."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    return tuple(code for code, r in REASONS.items() if stage in r.stages)


def tagged(reason: Reason, detail: str) -> str:
    """'code: detail', how a report without a reason column names a star's reason (extract's
    ids_missing)."""
    return f"{reason.code}: {detail}"


def markdown_table() -> str:
    """The README's table of reject reasons (tests/structure/test_reasons.py keeps them equal)."""
    rows = ["| reason | stages | what failed | detail | tested in |", "|---|---|---|---|---|"]
    rows += [f"| `{r.code}` | {', '.join(r.stages)} | {r.meaning} | {r.detail} | {r.emitter} |"
             for r in REASONS.values()]
    return "\n".join(rows) + "\n"
