"""The promotion rule of the register stage (pure: numbers in, decision out)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from rrlfeh.serving import gate


def _m(**wrmse):
    return {t: {"wrmse": v} for t, v in wrmse.items()}


def test_no_champion_promotes():
    assert gate.decide(_m(rrab=9.0, rrc=9.0), None, 0.0)[0] is True


def test_every_type_must_be_no_worse():
    assert gate.decide(_m(rrab=0.10, rrc=0.10), _m(rrab=0.10, rrc=0.11), 0.0)[0] is True  # ties win
    ok, reason = gate.decide(_m(rrab=0.09, rrc=0.12), _m(rrab=0.10, rrc=0.11), 0.0)
    assert ok is False and reason.startswith("challenger worse for rrc")


def test_tolerance():
    assert gate.decide(_m(rrab=0.12), _m(rrab=0.10), 0.02 + 1e-12)[0] is True
    assert gate.decide(_m(rrab=0.12), _m(rrab=0.10), 0.01)[0] is False


def test_unscored_types():
    # the champion cannot score a type (no model for it): the challenger wins that type
    assert gate.decide(_m(rrab=0.1, rrc=0.2), _m(rrab=0.1, rrc=math.nan), 0.0)[0] is True
    # the challenger scores no star of a type: it loses
    assert gate.decide(_m(rrab=math.nan), _m(rrab=0.5), 0.0)[0] is False
    # the challenger drops a type the champion serves: it loses
    ok, reason = gate.decide(_m(rrab=0.05), _m(rrab=0.1, rrc=0.1), 0.0)
    assert ok is False and "rrc: served by the champion" in reason


def test_digest_changes_with_any_input():
    inputs = pd.DataFrame({"source_id": [1, 2], "period": [0.5, 0.3], "epoch_g": [1.0, 2.0],
                           "time": [np.arange(3.0), np.arange(4.0)], "mag": [np.ones(3), np.ones(4)]})
    y, w = np.array([-1.0, -2.0]), np.array([1.0, 1.0])
    base = gate.digest_of(inputs, y, w)
    assert base == gate.digest_of(inputs.copy(), y.copy(), w.copy())
    changed = inputs.copy()
    changed.at[1, "mag"] = np.array([1.0, 1.0, 1.0, 1.01])
    assert gate.digest_of(changed, y, w) != base
    assert gate.digest_of(inputs, y + [0, 0.1], w) != base
    assert gate.digest_of(inputs, y, w * [1, 2]) != base


def test_a_type_left_as_the_champions_own_is_not_judged_any_other_base_loses():
    from rrlfeh.serving.gate import decide, unchanged_types

    manifests = {"rrab": {"finetune": {"model_version": "3"}},
                 "rrc": {"finetune": {"model_version": "3", "kept_base": "no labelled rrc star"}}}
    unchanged = unchanged_types(manifests)
    assert unchanged == {"rrc": "3"}
    better = {"rrab": {"wrmse": 0.15}}
    champion = {"rrab": {"wrmse": 0.18}}
    ok, reason = decide(better, champion, 0.0, unchanged, champion_version="3")
    assert ok and "rrc: the champion's own folds, unchanged (not judged)" in reason
    ok, reason = decide(better, champion, 0.0, unchanged, champion_version="4")
    assert not ok and "challenger worse for rrc" in reason
