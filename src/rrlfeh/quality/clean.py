"""Stage `clean`: the paper's selection cuts; every star leaves either kept or with its reason.

Reads data/raw, applies `rrlfeh.quality.cuts` (order and meaning documented there), checks the result
with a Great Expectations suite, then writes data/clean/{vari_rrlyrae,epoch_photometry,labels,
rejected}.parquet, metrics/clean.json and the Bailey diagram. Kept epochs are the G rows of kept
stars, flagged transits and NaN magnitudes included (preprocess drops and counts them), sorted by
(source_id, time) so readers can stream whole stars.

The epoch table never sits in memory whole: a first pass over it in chunks of whole stars counts
each star's epochs (all the cuts need from it), a second pass writes the kept rows (star_sort),
and the suite reads the written table back in chunks before it is published.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from rrlfeh.config.data import CleanConfig, ValidateConfig
from rrlfeh.core import schema
from rrlfeh.quality.cuts import (
    CUTS, LABEL_CUTS, details, epoch_counts, failures, feh_error_cut_applies, fill_feh_error,
    first_failure, g_rows, phi31_cut_applies, repeated_rows,
    star_facts,
)
from rrlfeh.quality.plots import bailey_diagram
from rrlfeh.quality.star_sort import write_by_star
from rrlfeh.quality.validate import STARS_PER_CHUNK, read_epoch_chunks, validate_clean_tables

STAGE = "clean"


def select_stars(cfg: CleanConfig, vari: pd.DataFrame, counts: pd.DataFrame,
                 labels: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], dict]:
    """Pure: the clean vari_rrlyrae, labels and rejected tables, and the metrics, from the small
    tables and the epoch table's rows per star (`epoch_counts`)."""
    labelled = len(labels) > 0
    labels, n_defaulted = fill_feh_error(labels, cfg.default_feh_error)
    facts = star_facts(vari, counts, labels)
    fails = failures(facts, cfg, labelled)
    reason = first_failure(fails)
    kept_ids = facts.index[reason.to_numpy() == ""]
    out = reason.to_numpy() != ""
    rejected = schema.conform(pd.DataFrame({
        "source_id": facts.index[out], "stage": STAGE, "reason": reason[out].to_numpy(),
        "detail": details(facts, reason, cfg)[out].to_numpy(),
    }), "rejected")
    tables = {
        "vari_rrlyrae": vari[vari["source_id"].isin(kept_ids)].sort_values("source_id"),
        "labels": labels[labels["source_id"].isin(kept_ids)].sort_values("source_id"),
        "rejected": rejected,
    }
    tables = {name: df.reset_index(drop=True) for name, df in tables.items()}
    metrics = clean_metrics(facts, fails, reason, labelled)
    metrics["feh_error_cut"] = (
        ("applied" if feh_error_cut_applies(facts) else "skipped: no label has a feh_error "
         "(set clean.default_feh_error to apply it)") if labelled else "skipped: no labels")
    metrics["labels_given_default_feh_error"] = n_defaulted
    _reconcile(metrics, tables)
    return tables, metrics


def kept_epochs(epochs: pd.DataFrame, kept_ids) -> pd.DataFrame:
    """The epoch rows a clean table keeps: the G rows of kept stars, each transit once."""
    return epochs[g_rows(epochs) & ~repeated_rows(epochs)
                  & epochs["source_id"].isin(kept_ids).to_numpy()]


def clean_metrics(facts: pd.DataFrame, fails: pd.DataFrame, reason: pd.Series,
                  labelled: bool) -> dict:
    """Counts per cut and per type. `rejected_by_reason` counts each rejected star under its first
    failed cut (keys in CUTS order; sums to rejected); `failing_each_cut` counts every cut's
    failures regardless of order (a star may count under several)."""
    kept = reason.to_numpy() == ""
    star_type = facts["best_classification"].where(facts["best_classification"].isin(schema.TYPES),
                                                   "unknown")
    by_type = {}
    for t in (*schema.TYPES, "unknown"):
        rows = star_type.to_numpy() == t
        by_type[t] = {
            "input": int(rows.sum()), "kept": int((rows & kept).sum()),
            "rejected": int((rows & ~kept).sum()),
            # only the reasons that occur, to keep the metrics file readable
            "rejected_by_reason": {c: n for c in CUTS
                                   if (n := int((rows & (reason.to_numpy() == c)).sum()))},
        }
    kept_facts = facts[kept]
    n_clean = kept_facts["n_clean_g"]
    rows, rows_g = facts["n_rows"].to_numpy(), facts["n_g"].to_numpy()
    repeated = facts["n_repeated_rows"].to_numpy()
    return {
        "stars": {"input": len(facts), "kept": int(kept.sum()), "rejected": int((~kept).sum())},
        "labels_present": labelled,
        "label_cuts": "applied" if labelled else
                      f"skipped: the labels table is empty ({', '.join(LABEL_CUTS)} not applied)",
        "phi31_error_cut": "applied" if phi31_cut_applies(facts) else
                           "skipped: no RRab in the input has phi31_g_error",
        "rejected_by_reason": {c: int((reason.to_numpy() == c).sum()) for c in CUTS},
        "failing_each_cut": {c: int(fails[c].sum()) for c in CUTS},
        "by_type": by_type,
        "transits": {
            "input_rows": int(rows.sum()),
            "kept_g_rows": int(rows_g[kept].sum()),
            "dropped_non_g_rows_of_kept_stars": int((rows - rows_g - repeated)[kept].sum()),
            # exact repeats of a row (a file concatenated twice): dropped, the star kept
            "dropped_repeated_rows_of_kept_stars": int(repeated[kept].sum()),
            "dropped_rows_of_rejected_stars": int(rows[~kept].sum()),
            "kept_clean_g_epochs": int(n_clean.sum()),
            # kept in the clean table, not counted as clean epochs; preprocess drops them
            "kept_g_flagged_by_variability": int(kept_facts["n_flagged_g"].sum()),
            "kept_g_nan_mag": int(kept_facts["n_nan_mag_g"].sum()),
            "kept_g_not_clean": int((kept_facts["n_g"] - n_clean).sum()),
        },
        "clean_g_epochs_per_kept_star": {
            "min": int(n_clean.min()) if len(n_clean) else 0,
            "median": float(np.median(n_clean)) if len(n_clean) else 0.0,
            "max": int(n_clean.max()) if len(n_clean) else 0,
        },
    }


def _reconcile(metrics: dict, tables: dict[str, pd.DataFrame]) -> None:
    """Every star and every epoch row is accounted for; a mismatch is a bug, so stop loudly."""
    s = metrics["stars"]
    checks = {
        "kept + rejected == input": s["kept"] + s["rejected"] == s["input"],
        "sum of rejected_by_reason == rejected": sum(metrics["rejected_by_reason"].values())
        == s["rejected"],
        "rejected table rows == rejected": len(tables["rejected"]) == s["rejected"],
        "vari_rrlyrae rows == kept": len(tables["vari_rrlyrae"]) == s["kept"],
        "per-type inputs sum to input": sum(v["input"] for v in metrics["by_type"].values())
        == s["input"],
    }
    broken = [name for name, ok in checks.items() if not ok]
    if broken:
        raise RuntimeError(f"clean: counts do not reconcile ({', '.join(broken)}): {s}")


def run_clean(cfg: CleanConfig, vcfg: ValidateConfig, raw_dir: Path, out_dir: Path,
              metrics_path: Path, plots_dir: Path, report_dir: Path | None = None,
              stars_per_chunk: int = STARS_PER_CHUNK) -> dict:
    """Stage `clean`. The clean-table validation report goes to report_dir/validation.json."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    vari = schema.read_table(raw_dir / "vari_rrlyrae.parquet", "vari_rrlyrae")

    def raw_epochs():
        return read_epoch_chunks(raw_dir / "epoch_photometry.parquet", stars_per_chunk)

    first_pass = raw_epochs()  # checks the file before labels are read, as read_table would
    labels = schema.read_table(raw_dir / "labels.parquet", "labels")
    counts = pd.concat([epoch_counts(chunk) for chunk in first_pass])
    tables, metrics = select_stars(cfg, vari, counts, labels)
    kept = tables["vari_rrlyrae"]["source_id"].to_numpy()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # staged beside out_dir: nothing is published before the suite passes
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=f".{out_dir.name}-") as staging:
        epochs = Path(staging) / "epoch_photometry.parquet"
        rows = write_by_star((kept_epochs(chunk, kept) for chunk in raw_epochs()), kept,
                             stars_per_chunk, epochs, "epoch_photometry", by=["source_id", "time"])
        if rows != metrics["transits"]["kept_g_rows"]:  # a bug: stop loudly
            raise RuntimeError(f"clean: wrote {rows} epoch rows, counted "
                               f"{metrics['transits']['kept_g_rows']} kept G rows")
        written = {**tables, "epoch_photometry": read_epoch_chunks(epochs, stars_per_chunk)}
        validate_clean_tables(cfg, vcfg, written, metrics["labels_present"], CUTS, report_dir,
                              phi31_cut=metrics["phi31_error_cut"] == "applied",
                              feh_error_cut=metrics["feh_error_cut"] == "applied")
        for name, df in tables.items():
            schema.write_table(df, out_dir / f"{name}.parquet", name)
        os.replace(epochs, out_dir / "epoch_photometry.parquet")
    metrics_path = Path(metrics_path)
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
    bailey_diagram(tables["vari_rrlyrae"], tables["labels"], Path(plots_dir) / "bailey.png",
                   rejected=vari[vari["source_id"].isin(tables["rejected"]["source_id"])])
    return metrics
