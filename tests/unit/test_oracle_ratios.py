"""model/oracle ratios: the headline against the simulator's noise floor, and none where the labels
are the oracle's own values (simulate.label_mode measured: a floor at float precision)."""

from __future__ import annotations

from rrlfeh.model.report import oracle_ratios


def _summary(floor: float) -> dict:
    model = {"wrmse": 0.066, "rmse": 0.06}
    oracle = {"wrmse": floor, "rmse": floor}
    return {"oof": model, "test": model, "oracle": {"oof": oracle, "test": oracle}}


def test_ratios_against_a_noise_floor():
    ratios = oracle_ratios(_summary(0.06))
    assert set(ratios) == {"oof_wrmse", "oof_rmse", "test_wrmse", "test_rmse"}
    assert abs(ratios["oof_wrmse"] - 1.1) < 1e-12


def test_no_ratio_when_the_labels_are_the_oracle():
    assert oracle_ratios(_summary(4e-8)) == {}  # float32 labels against float64 oracle values
