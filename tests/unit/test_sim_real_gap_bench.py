"""The two-sample AUC of bench/sim_real_gap.py on synthetic samples (no real data needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.mark.integration  # scikit-learn's gradient boosting runs `lscpu` once to count the cores
def test_auc_is_a_half_for_one_distribution_and_near_one_for_two():
    from bench.sim_real_gap import auc

    rng = np.random.default_rng(0)
    cols = ["a", "b", "c"]
    same = [pd.DataFrame(rng.normal(size=(600, 3)), columns=cols) for _ in range(2)]
    assert abs(auc(*same, cols) - 0.5) < 0.06
    # a difference in the joint distribution only (each column alone looks alike): still found
    x, z = rng.normal(size=(600, 2)), rng.normal(size=(600, 2))
    real = pd.DataFrame({"a": x[:, 0], "b": x[:, 0] + 0.1 * x[:, 1], "c": x[:, 1]})
    sim = pd.DataFrame({"a": z[:, 0], "b": -z[:, 0] + 0.1 * z[:, 1], "c": z[:, 1]})
    assert auc(real, sim, cols) > 0.9
    assert abs(auc(real, sim, ["a"]) - 0.5) < 0.06
