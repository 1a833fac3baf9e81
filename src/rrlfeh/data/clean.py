"""Stage `clean`: the paper's selection cuts; every star leaves either kept or with its reason.

Reads data/raw, applies `rrlfeh.data.cuts` (order and meaning documented there), checks the result
with a Great Expectations suite, then writes data/clean/{vari_rrlyrae,epoch_photometry,labels,
rejected}.parquet, metrics/clean.json and the Bailey diagram. Kept epochs are the G rows of kept
stars, flagged transits and NaN magnitudes included (preprocess drops and counts them), sorted by
(source_id, time) so readers can stream whole stars.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from rrlfeh.config.data import CleanConfig, ValidateConfig
from rrlfeh.data import schema
from rrlfeh.data.cuts import (
    CUTS, LABEL_CUTS, details, failures, first_failure, phi31_cut_applies, star_facts,
)
from rrlfeh.data.plots import bailey_diagram
from rrlfeh.data.validate import read_tables, validate_clean_tables

STAGE = "clean"


def select_stars(cfg: CleanConfig, vari: pd.DataFrame, epochs: pd.DataFrame,
                 labels: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], dict]:
    """Pure: the clean tables (vari_rrlyrae, epoch_photometry, labels, rejected) and the metrics."""
    labelled = len(labels) > 0
    facts = star_facts(vari, epochs, labels)
    fails = failures(facts, cfg, labelled)
    reason = first_failure(fails)
    kept_ids = facts.index[reason.to_numpy() == ""]
    out = reason.to_numpy() != ""
    rejected = schema.conform(pd.DataFrame({
        "source_id": facts.index[out], "stage": STAGE, "reason": reason[out].to_numpy(),
        "detail": details(facts, reason, cfg)[out].to_numpy(),
    }), "rejected")

    in_kept = epochs["source_id"].isin(kept_ids).to_numpy()
    is_g = (epochs["band"] == "G").fillna(False).to_numpy(dtype=bool)
    tables = {
        "vari_rrlyrae": vari[vari["source_id"].isin(kept_ids)].sort_values("source_id"),
        "epoch_photometry": epochs[in_kept & is_g].sort_values(["source_id", "time"], kind="stable"),
        "labels": labels[labels["source_id"].isin(kept_ids)].sort_values("source_id"),
        "rejected": rejected,
    }
    tables = {name: df.reset_index(drop=True) for name, df in tables.items()}
    transits = {
        "input_rows": len(epochs),
        "kept_g_rows": int((in_kept & is_g).sum()),
        "dropped_non_g_rows_of_kept_stars": int((in_kept & ~is_g).sum()),
        "dropped_rows_of_rejected_stars": int((~in_kept).sum()),
    }
    metrics = clean_metrics(facts, fails, reason, transits, labelled)
    _reconcile(metrics, tables)
    return tables, metrics


def clean_metrics(facts: pd.DataFrame, fails: pd.DataFrame, reason: pd.Series, transits: dict,
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
            **transits,
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
    s, t = metrics["stars"], metrics["transits"]
    checks = {
        "kept + rejected == input": s["kept"] + s["rejected"] == s["input"],
        "sum of rejected_by_reason == rejected": sum(metrics["rejected_by_reason"].values())
        == s["rejected"],
        "rejected table rows == rejected": len(tables["rejected"]) == s["rejected"],
        "vari_rrlyrae rows == kept": len(tables["vari_rrlyrae"]) == s["kept"],
        "per-type inputs sum to input": sum(v["input"] for v in metrics["by_type"].values())
        == s["input"],
        "epoch rows reconcile": t["kept_g_rows"] + t["dropped_non_g_rows_of_kept_stars"]
        + t["dropped_rows_of_rejected_stars"] == t["input_rows"],
    }
    broken = [name for name, ok in checks.items() if not ok]
    if broken:
        raise RuntimeError(f"clean: counts do not reconcile ({', '.join(broken)}): {s}")


def run_clean(cfg: CleanConfig, vcfg: ValidateConfig, raw_dir: Path, out_dir: Path,
              metrics_path: Path, plots_dir: Path, report_dir: Path | None = None) -> dict:
    """Stage `clean`. The clean-table validation report goes to report_dir/validation.json."""
    raw = read_tables(raw_dir, schema.RAW_TABLES)
    tables, metrics = select_stars(cfg, *(raw[name] for name in schema.RAW_TABLES))
    # validate before writing: a broken promise must not reach preprocess
    validate_clean_tables(cfg, vcfg, tables, metrics["labels_present"], CUTS, report_dir,
                          phi31_cut=metrics["phi31_error_cut"] == "applied")
    out_dir = Path(out_dir)
    for name, df in tables.items():
        schema.write_table(df, out_dir / f"{name}.parquet", name)
    metrics_path = Path(metrics_path)
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
    vari = raw["vari_rrlyrae"]
    bailey_diagram(tables["vari_rrlyrae"], tables["labels"], Path(plots_dir) / "bailey.png",
                   rejected=vari[vari["source_id"].isin(tables["rejected"]["source_id"])])
    return metrics
