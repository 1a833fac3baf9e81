"""The model against the P-phi31 line on the same stars (rrlfeh.evaluation.scores): epoch bins and
the paired bootstrap of issue 21's bar, on synthetic arrays only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rrlfeh.evaluation.scores import (epoch_bin_names, epoch_bins, paired_bootstrap, versus_line,
                                      versus_line_by_bin)


def test_epoch_bins_put_the_edges_in_the_bin_above():
    assert epoch_bin_names() == ["<40", "40-49", "50-59", ">=60"]
    got = epoch_bins([12, 39, 40, 49, 50, 59, 60, 200])
    assert got.tolist() == ["<40", "<40", "40-49", "40-49", "50-59", "50-59", ">=60", ">=60"]


def test_bin_table_counts_and_scores_each_bin():
    label = np.zeros(6)
    pred = np.array([0.1, -0.1, 0.2, 0.2, 0.0, np.nan])  # the NaN star is left out everywhere
    line = np.array([0.3, 0.3, 0.1, -0.1, 0.5, 0.0])
    n_epochs = np.array([30, 35, 45, 45, 70, 55])
    t = versus_line_by_bin(pred, line, label, n_epochs)
    assert [t[b]["n"] for b in ("<40", "40-49", "50-59", ">=60")] == [2, 2, 0, 1]
    assert t["<40"]["model_rmse"] == pytest.approx(0.1) and t["<40"]["line_rmse"] == pytest.approx(0.3)
    assert t["<40"]["model_bias"] == pytest.approx(0.0)
    assert t["40-49"]["model_bias"] == pytest.approx(0.2)
    assert t["40-49"]["line_median_abs"] == pytest.approx(0.1)
    assert t["50-59"] == {"n": 0}


def test_bootstrap_is_paired_a_uniformly_better_model_wins_every_draw():
    """Each star's model error is 90 % of the line's: on any resample of the stars the model wins.
    Resampling the two sets of errors independently (unpaired) would lose many draws, since the
    stars' errors spread far more than the 10 % gap."""
    rng = np.random.default_rng(0)
    err = rng.standard_normal(150) * rng.uniform(0.02, 0.6, 150)
    label = rng.normal(-1.5, 0.4, 150)
    got = paired_bootstrap(label + 0.9 * err, label + err, label)
    assert got["share_model_rmse_below_line"] == 1.0 and got["beats_line"]
    assert got["rmse_difference_p16_p50_p84"][2] < 0
    i, j = rng.integers(0, 150, (2, 1000, 150))  # what an unpaired bootstrap would see
    unpaired = np.mean(np.sqrt((0.81 * err[i] ** 2).mean(1)) < np.sqrt((err[j] ** 2).mean(1)))
    assert unpaired < 0.9


def test_bootstrap_direction_a_worse_model_never_beats_the_line():
    rng = np.random.default_rng(1)
    err = rng.standard_normal(120) * 0.15
    label = np.zeros(120)
    got = paired_bootstrap(label + 1.2 * err, label + err, label)
    assert got["share_model_rmse_below_line"] == 0.0 and not got["beats_line"]
    p16, p50, p84 = got["rmse_difference_p16_p50_p84"]
    assert 0 < p16 <= p50 <= p84
    assert got["model_rmse"] > got["line_rmse"]


def test_bootstrap_share_near_the_bar_and_reproducible():
    """A small, noisy edge: the share is between 0 and 1, fixed by the seed, and the bar reads it."""
    rng = np.random.default_rng(2)
    label = np.zeros(100)
    line = rng.standard_normal(100) * 0.15
    model = line * 0.97 + rng.standard_normal(100) * 0.04
    a, b = paired_bootstrap(model, line, label, seed=3), paired_bootstrap(model, line, label, seed=3)
    assert a == b and 0.0 < a["share_model_rmse_below_line"] < 1.0
    assert a["beats_line"] == (a["share_model_rmse_below_line"] >= 0.84)
    assert paired_bootstrap(model, line, label, bar=0.0)["beats_line"]
    assert paired_bootstrap([], [], []) == {"n": 0, "beats_line": False}


def test_versus_line_splits_the_groups_at_50_epochs():
    rng = np.random.default_rng(4)
    n_epochs = rng.integers(20, 90, 200)
    label = np.zeros(200)
    line = rng.standard_normal(200) * 0.15
    model = np.where(n_epochs >= 50, 0.5 * line, 2.0 * line)  # wins on the well-sampled stars only
    got = versus_line(model, line, label, n_epochs, draws=300)
    boot = got["paired_bootstrap"]
    assert boot[">=50"]["beats_line"] and not boot["<50"]["beats_line"]
    assert boot["<50"]["n"] + boot[">=50"]["n"] == boot["all"]["n"] == 200
    assert sum(b["n"] for b in got["epoch_bins"].values()) == 200


def test_real_stars_bench_reports_the_bar_per_half():
    from bench.real_stars import score

    rng = np.random.default_rng(5)
    n = 80
    label = rng.normal(-1.5, 0.4, n)
    table = pd.DataFrame({
        "feh_label": label, "feh": label + rng.normal(0, 0.1, n), "feh_error": 0.1,
        "baseline": label + rng.normal(0, 0.2, n), "baseline_cv": label + rng.normal(0, 0.2, n),
        "out_of_range": np.arange(n) < 5, "out_of_range_reason": np.where(np.arange(n) < 5, "shape", ""),
        "reason": None, "n_epochs": rng.integers(20, 90, n)})
    table.loc[5, "baseline"] = np.nan  # no clean phi31: not a star both score
    got = score(table)["model_versus_baseline_unflagged"]
    assert got["paired_bootstrap"]["all"]["n"] == n - 6
    assert got["paired_bootstrap"]["all"]["draws"] == 1000
    assert set(got["epoch_bins"]) == {"<40", "40-49", "50-59", ">=60"}
