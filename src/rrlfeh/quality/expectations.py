"""The Great Expectations suites, as data: what the raw tables and the clean tables must satisfy.

Cross-table checks (every epoch's and label's star is in vari_rrlyrae, every star has G epochs) are
plain column expectations on derived columns added to the batch (`in_vari_rrlyrae`, `n_g_epochs`,
...): a `value_set` of 270,000 source_ids would otherwise be copied into every result and data docs
page. Each expectation carries `meta["check"]`, the sentence a failure message quotes.

The epoch tables come in chunks of whole stars: their expectations are row-wise, or unique keys
that include source_id, so each holds for the table exactly when it holds in every chunk. Per-star
counts over the epochs are summed over the chunks as they pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import great_expectations.expectations as gxe
import numpy as np
import pandas as pd
from great_expectations.expectations.row_conditions import Column

from rrlfeh.config.data import CleanConfig, ValidateConfig
from rrlfeh.core import curve, schema
from rrlfeh.quality.cuts import clean_g_rows, g_rows

Suites = dict[str, list[gxe.Expectation]]
Table = pd.DataFrame | Iterable[pd.DataFrame]  # a whole table, or its chunks
Batches = dict[str, Table]

# Gaia transit_id is optional in user files (conform fills -1): key uniqueness applies where it is set.
_HAS_TRANSIT = Column("transit_id") >= 0
EPOCH_KEY = ["source_id", "transit_id", "band"]


def _between(column: str, check: str, lo=None, hi=None, *, strict_lo=False, strict_hi=False,
             **kw) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeBetween(
        column=column, min_value=lo, max_value=hi, strict_min=strict_lo, strict_max=strict_hi,
        meta={"check": check}, **kw)


def _not_null(column: str, check: str, **kw) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToNotBeNull(column=column, meta={"check": check}, **kw)


def _in_set(column: str, values, check: str) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(values), meta={"check": check})


def _unique(column: str, check: str) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeUnique(column=column, meta={"check": check})


def _unique_transits() -> gxe.Expectation:
    return gxe.ExpectCompoundColumnsToBeUnique(
        column_list=EPOCH_KEY, row_condition=_HAS_TRANSIT,
        meta={"check": "one row per (source_id, transit_id, band)"})


def raw_suites(cfg: ValidateConfig) -> Suites:
    """Types, ranges, unique keys and referential integrity of the three raw tables."""
    p = (cfg.period_min, cfg.period_max)
    return {
        "vari_rrlyrae": [
            gxe.ExpectTableRowCountToBeBetween(min_value=1, meta={"check": "at least one star"}),
            _unique("source_id", "one row per star"),
            _not_null("best_classification", "every star has a classification"),
            _in_set("best_classification", schema.TYPES, f"classification is one of {list(schema.TYPES)}"),
            _between("pf", f"fundamental period in [{p[0]}, {p[1]}] d where set", *p),
            _between("p1_o", f"first-overtone period in [{p[0]}, {p[1]}] d where set", *p),
            _between("peak_to_peak_g", f"G amplitude in (0, {cfg.amplitude_max}] mag", 0.0,
                     cfg.amplitude_max, strict_lo=True),
            _between("phi31_g_error", "phi31 error positive", 0.0, strict_lo=True),
            _between("num_clean_epochs_g", "epoch count not negative", 0),
            _between("int_average_g", f"mean G in [{cfg.mag_min}, {cfg.mag_max}]",
                     cfg.mag_min, cfg.mag_max),
            _between("ra", "ra in [0, 360] deg", 0.0, 360.0),
            _between("dec", "dec in [-90, 90] deg", -90.0, 90.0),
            _between("n_g_epochs", "stars have G-band epochs in epoch_photometry", 1,
                     mostly=cfg.min_fraction_with_g_epochs),
        ],
        "epoch_photometry": [
            _not_null("band", "every row has a band"),
            _in_set("band", schema.BANDS, f"band is one of {list(schema.BANDS)}"),
            # The archive returns transits rejected by the variability pipeline with empty
            # time/mag (seen in real DR3 files): only unflagged rows must have a time.
            _not_null("time", "every unflagged row has a time",
                      row_condition=Column(curve.FLAG) == False),  # noqa: E712
            _between("time", f"time inside the Gaia DR3 span [{cfg.time_min}, {cfg.time_max}]",
                     cfg.time_min, cfg.time_max),
            _between("mag", f"magnitude in [{cfg.mag_min}, {cfg.mag_max}] where set",
                     cfg.mag_min, cfg.mag_max),
            _between("flux_error", "flux error positive where set", 0.0, strict_lo=True),
            # no unique-transit check here: a star's repeated or conflicting transits are its own
            # problem, not the table's: clean drops exact repeats and rejects conflicts per star
            # (duplicate_transits); the clean suite checks the key is then unique
            _in_set("in_vari_rrlyrae", [True], "every epoch's star is in vari_rrlyrae"),
        ],
        "labels": [
            _unique("source_id", "one label per star"),
            _not_null("feh", "every label has [Fe/H]"),
            _between("feh", f"[Fe/H] in [{cfg.feh_min}, {cfg.feh_max}] dex", cfg.feh_min, cfg.feh_max),
            _between("feh_error", "[Fe/H] error positive where set", 0.0, strict_lo=True),
            _in_set("in_vari_rrlyrae", [True], "every labelled star is in vari_rrlyrae"),
        ],
    }


def clean_suites(cfg: CleanConfig, vcfg: ValidateConfig, labelled: bool,
                 reasons: tuple[str, ...], phi31_cut: bool = True,
                 feh_error_cut: bool = True) -> Suites:
    """What the clean stage promises downstream, checked independently of the cut code.

    The raw ranges are restated so that the clean tables stand on their own. `feh_error_cut`
    False (a catalogue without label errors, the cut skipped and recorded): labels may lack one.
    """
    return {
        "vari_rrlyrae": _clean_vari(cfg, vcfg, labelled, phi31_cut),
        "epoch_photometry": [
            _in_set("band", ["G"], "only G-band rows are kept"),
            _between("time", f"time inside [{vcfg.time_min}, {vcfg.time_max}]",
                     vcfg.time_min, vcfg.time_max),
            _between("mag", f"magnitude in [{vcfg.mag_min}, {vcfg.mag_max}] where set",
                     vcfg.mag_min, vcfg.mag_max),
            _unique_transits(),
            _in_set("in_vari_rrlyrae", [True], "epochs only of kept stars"),
        ],
        "labels": [
            _unique("source_id", "one label per kept star"),
            _not_null("feh", "every label has [Fe/H]"),
            _between("feh", f"[Fe/H] in [{vcfg.feh_min}, {vcfg.feh_max}] dex", vcfg.feh_min,
                     vcfg.feh_max),
            *([_not_null("feh_error", "every label has an error")] if feh_error_cut else []),
            _between("feh_error", f"feh_error in (0, {cfg.max_feh_error})" + (
                "" if feh_error_cut else " where set"), 0.0, cfg.max_feh_error,
                strict_lo=True, strict_hi=True),
            _in_set("in_vari_rrlyrae", [True], "labels only of kept stars"),
        ],
        "rejected": [
            _unique("source_id", "one reason per rejected star"),
            _in_set("stage", ["clean"], "stage is 'clean'"),
            _in_set("reason", reasons, "reason is one of the cuts"),
            _in_set("kept", [False], "no star is both kept and rejected"),
        ],
    }


def _clean_vari(cfg: CleanConfig, vcfg: ValidateConfig, labelled: bool, phi31_cut: bool) -> list:
    """The clean vari_rrlyrae suite: each kept star passed every cut."""
    rrab = Column("best_classification") == "RRab"
    p = (vcfg.period_min, vcfg.period_max)
    vari = [
        _unique("source_id", "one row per kept star"),
        _not_null("best_classification", "every kept star has a classification"),
        _in_set("best_classification", cfg.types, f"only {list(cfg.types)} are kept"),
        _not_null("period", "every kept star has its period (pf for RRab, p1_o for RRc)"),
        _between("period", f"period in [{p[0]}, {p[1]}] d", *p),
        _not_null("epoch_g", "every kept star has epoch_g"),
        _not_null("peak_to_peak_g", "every kept star has peak_to_peak_g"),
        _between("peak_to_peak_g", f"peak_to_peak_g < {cfg.max_peak_to_peak_g}", None,
                 cfg.max_peak_to_peak_g, strict_hi=True),
    ]
    if phi31_cut:
        vari += [
            _not_null("phi31_g_error", "every kept RRab has phi31_g_error", row_condition=rrab),
            _between("phi31_g_error", f"RRab phi31_g_error < {cfg.max_phi31_error_rrab}", None,
                     cfg.max_phi31_error_rrab, strict_hi=True, row_condition=rrab),
        ]
    vari += [
        _between("n_clean_g_epochs", f"at least {cfg.min_clean_epochs} clean G epochs",
                 cfg.min_clean_epochs),
    ]
    if labelled:
        vari.append(_in_set("has_label", [True], "every kept star has a label"))
    return vari


def chunks(table: Table) -> Iterable[pd.DataFrame]:
    """A table's chunks: a whole table is one."""
    return [table] if isinstance(table, pd.DataFrame) else table


def _member(ids: pd.Series, of: pd.Series) -> np.ndarray:
    return ids.isin(of).to_numpy()


def _epoch_batches(epochs: Table, vari: pd.DataFrame, counted: Callable[[pd.DataFrame], np.ndarray],
                   counts: list[pd.Series]) -> Iterator[pd.DataFrame]:
    """The epoch chunks with `in_vari_rrlyrae`; appends each chunk's rows per star that pass
    `counted` to `counts`."""
    for chunk in chunks(epochs):
        counts.append(chunk.loc[counted(chunk), "source_id"].value_counts())
        yield chunk.assign(in_vari_rrlyrae=_member(chunk["source_id"], vari["source_id"]))


def _per_star(ids: pd.Series, counts: list[pd.Series]) -> np.ndarray:
    """Counted rows per star summed over the chunks, aligned on `ids`; zero for stars without any."""
    total = pd.concat(counts).groupby(level=0).sum()  # a sum: right even if a star spanned chunks
    return total.reindex(ids.to_numpy(), fill_value=0).to_numpy()


def raw_batches(vari: pd.DataFrame, epochs: Table, labels: pd.DataFrame) -> Batches:
    """The raw tables with the derived columns the cross-table expectations read. epoch_photometry
    comes first: vari_rrlyrae's `n_g_epochs` sums what its chunks counted."""
    n_g: list[pd.Series] = []

    def stars():  # a generator: runs once the epoch chunks have been counted
        yield vari.assign(n_g_epochs=_per_star(vari["source_id"], n_g))

    return {
        "epoch_photometry": _epoch_batches(epochs, vari, g_rows, n_g),
        "vari_rrlyrae": stars(),
        "labels": labels.assign(in_vari_rrlyrae=_member(labels["source_id"], vari["source_id"])),
    }


def clean_batches(tables: dict[str, Table]) -> Batches:
    """The clean tables (and rejects) with derived columns; clean epochs recounted here, not reused."""
    vari, labels, rejected = (tables[n] for n in ("vari_rrlyrae", "labels", "rejected"))
    n_clean: list[pd.Series] = []

    def stars():  # a generator: runs once the epoch chunks have been counted
        yield vari.assign(
            period=schema.period_of(vari),
            n_clean_g_epochs=_per_star(vari["source_id"], n_clean),
            has_label=_member(vari["source_id"], labels["source_id"]))

    return {
        "epoch_photometry": _epoch_batches(tables["epoch_photometry"], vari, clean_g_rows, n_clean),
        "vari_rrlyrae": stars(),
        "labels": labels.assign(in_vari_rrlyrae=_member(labels["source_id"], vari["source_id"])),
        "rejected": rejected.assign(kept=_member(rejected["source_id"], vari["source_id"])),
    }


def describe(expectation_config: dict) -> tuple[str, str]:
    """(column or columns, check sentence) of a serialized expectation, for messages."""
    kw = expectation_config.get("kwargs", {})
    column = kw.get("column") or "+".join(kw.get("column_list", [])) or "(table)"
    check = (expectation_config.get("meta") or {}).get("check", "")
    return column, check

