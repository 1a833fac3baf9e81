"""Small raw tables built by hand (no simulator): nine stars, each made to pass or fail one cut."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rrlfeh.core import schema

# source_id -> (class, period, peak_to_peak_g, phi31_g_error, clean G epochs, label (feh, error) | None)
STARS = {
    101: ("RRab", 0.55, 0.80, 0.10, 60, (-1.5, 0.30)),
    102: ("RRab", 0.62, 0.70, 0.20, 52, (-1.2, 0.35)),
    103: ("RRab", 0.58, 0.75, 0.50, 60, (-1.6, 0.30)),   # phi31_g_error
    104: ("RRab", 0.50, 1.30, 0.10, 60, (-1.4, 0.30)),   # peak_to_peak_g
    201: ("RRc", 0.32, 0.40, np.nan, 55, (-1.7, 0.32)),
    202: ("RRc", 0.30, 0.45, np.nan, 45, (-1.5, 0.31)),  # too_few_clean_epochs
    203: ("RRc", 0.35, 0.38, np.nan, 60, (-1.9, 0.45)),  # feh_error
    204: ("RRc", 0.33, 0.36, np.nan, 60, None),          # no_label
    301: ("RRd", 0.48, 0.50, np.nan, 60, (-1.8, 0.30)),  # type_not_selected
}
EXPECTED_REASONS = {103: "phi31_g_error", 104: "peak_to_peak_g", 202: "too_few_clean_epochs",
                    203: "feh_error", 204: "no_label", 301: "type_not_selected"}
KEPT = [101, 102, 201]
N_FLAGGED, N_NAN = 2, 1  # extra G rows per star that must not count as clean epochs


def build_raw_tables(seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    vari, epochs, labels = [], [], []
    for sid, (cls, period, amp, phi_err, n_clean, label) in STARS.items():
        vari.append({
            "source_id": sid, "ra": 10.0 + sid / 100, "dec": -30.0,
            "pf": period if cls in ("RRab", "RRd") else np.nan,
            "p1_o": period if cls in ("RRc", "RRd") else np.nan,
            "epoch_g": 1700.25, "peak_to_peak_g": amp, "num_clean_epochs_g": n_clean,
            "phi31_g": 2.3, "phi31_g_error": phi_err, "best_classification": cls,
            "int_average_g": 17.0,
        })
        n_g = n_clean + N_FLAGGED + N_NAN
        bands = ["G"] * n_g + ["BP"] * 8 + ["RP"] * 8
        n = len(bands)
        time = np.sort(rng.uniform(1700.0, 2700.0, n))
        mag = 17.0 + 0.5 * amp * np.sin(2 * np.pi * time / period) + rng.normal(0, 0.01, n)
        flagged = np.zeros(n, dtype=bool)
        flagged[:N_FLAGGED] = True
        mag[N_FLAGGED:N_FLAGGED + N_NAN] = np.nan
        epochs.append(pd.DataFrame({
            "source_id": sid, "transit_id": np.arange(n) * 1000 + 17, "band": bands,
            "time": time, "mag": mag, "flux": 10 ** (-0.4 * (mag - 25.7)),
            "flux_error": 50.0, "flux_over_error": 200.0,
            "rejected_by_photometry": False, "rejected_by_variability": flagged,
            "other_flags": 0, "solution_id": 375316653866487564,
        }))
        if label is not None:
            labels.append({"source_id": sid, "feh": label[0], "feh_error": label[1]})
    return {
        "vari_rrlyrae": schema.conform(pd.DataFrame(vari), "vari_rrlyrae"),
        "epoch_photometry": schema.conform(pd.concat(epochs, ignore_index=True), "epoch_photometry"),
        "labels": schema.conform(pd.DataFrame(labels), "labels"),
    }


@pytest.fixture
def raw_tables() -> dict[str, pd.DataFrame]:
    """A fresh copy per test: tests break it one way at a time."""
    return build_raw_tables()


@pytest.fixture
def write_raw(tmp_path):
    """tables -> a folder holding them as data/raw does (plain Parquet, conformed)."""
    def write(tables: dict[str, pd.DataFrame], name: str = "raw"):
        folder = tmp_path / name
        for table, df in tables.items():
            schema.write_table(df, folder / f"{table}.parquet", table)
        return folder
    return write


@pytest.fixture
def raw_dir(write_raw, raw_tables):
    return write_raw(raw_tables)


@pytest.fixture
def expected_reasons() -> dict[int, str]:
    return dict(EXPECTED_REASONS)


@pytest.fixture
def kept_ids() -> list[int]:
    return list(KEPT)
