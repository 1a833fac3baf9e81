"""Behavioural tests of the served model (the registered pyfunc users call), Made-With-ML style.

Invariances a light curve's physics demands, whatever the weights: the estimate does not change when
the times move by whole periods (inside the accepted window), the magnitudes by a constant (distance,
extinction) or the epochs come in another order. And a directional one: at a fixed period, a larger
phi31 means a more metal-rich RRab (the paper's and the simulator's relation), so the estimate rises.
The tiny model of model_fixture is enough: the invariances hold by construction of the one
preprocessing code, the direction is what even a few epochs of training learn.
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from rrlfeh.serving.payload import model_input_from_tables
from tests.support.model_fixture import _curve, register_tiny, simulate
from tests.support.stores import private_store


@pytest.fixture(scope="module")
def served(tiny_workspace, tmp_path_factory):  # noqa: F811
    with private_store(tmp_path_factory.mktemp("behaviour")):
        register_tiny(tiny_workspace)
        yield mlflow.pyfunc.load_model("models:/rrl-feh@champion")


@pytest.fixture(scope="module")
def stars() -> pd.DataFrame:
    data = simulate(12, seed=21)  # stars the model was not trained on
    return model_input_from_tables(data["vari_rrlyrae"], data["epoch_photometry"])


def _feh(model, rows: pd.DataFrame) -> np.ndarray:
    out = model.predict(rows)
    assert (out["status"] == "ok").all(), out.loc[out["status"] != "ok", "reason"].tolist()
    return out["feh"].to_numpy()


def _map(rows: pd.DataFrame, column: str, f) -> pd.DataFrame:
    return rows.assign(**{column: [f(v, r) for v, r in zip(rows[column], rows.itertuples())]})


@pytest.mark.parametrize("change", ["times shifted by whole periods", "magnitudes shifted",
                                    "epochs shuffled"])
def test_the_estimate_does_not_change(served, stars, change):
    rng = np.random.default_rng(5)
    if change == "times shifted by whole periods":  # a few cycles: still inside the DR3 window
        moved = _map(stars, "time", lambda t, r: t + rng.integers(-4, 5) * r.period)
        moved = moved.assign(epoch_g=moved["epoch_g"] + 7 * moved["period"])
    elif change == "magnitudes shifted":
        moved = _map(stars, "mag", lambda m, r: m + 0.83)
    else:
        order = [rng.permutation(len(t)) for t in stars["time"]]
        moved = stars.assign(time=[t[o] for t, o in zip(stars["time"], order)],
                             mag=[m[o] for m, o in zip(stars["mag"], order)],
                             mag_error=[e[o] for e, o in zip(stars["mag_error"], order)])
    np.testing.assert_allclose(_feh(served, moved), _feh(served, stars), atol=1e-4)


def test_a_larger_phi31_at_fixed_period_means_a_more_metal_rich_rrab(served):
    """Nine RRab at P = 0.6 d whose phi31 spans what [Fe/H] -2.3 .. -0.7 gives (phi21 following it,
    as in the fixture's training stars): the estimates rise with phi31."""
    n, period, rng = 9, 0.6, np.random.default_rng(2)
    phi31 = 2.343 + 1.174 * (np.linspace(-2.3, -0.7, n) + 1.5)
    phi21 = 3.236 + 0.392 * phi31
    amps = np.tile(0.27 * np.array([1.0, 0.46, 0.30]), (n, 1))
    phis = np.stack([np.zeros(n), phi21, phi31], 1)
    grid = np.linspace(0, 1, 1000, endpoint=False)
    t_max = grid[np.argmin(_curve(np.broadcast_to(grid, (n, grid.size)), amps, phis), axis=1)]
    time = np.sort(rng.uniform(1666.4, 2704.4, 70))  # the same epochs for every star
    t0 = 1700.0
    mags = 16.0 + _curve(np.broadcast_to(((time - t0) / period) % 1.0, (n, time.size)), amps, phis)
    rows = pd.DataFrame({"source_id": np.arange(1, n + 1) * 1_000_003, "type": "RRab",
                         "period": period, "epoch_g": t0 + t_max * period,
                         "time": [time] * n, "mag": list(mags)})
    feh = _feh(served, rows)
    rho = spearmanr(phi31, feh).statistic
    # the tiny model's slope is shallow (0.1 dex here against the relation's 1.6): the direction is
    # the test, a phi31-blind or inverted model fails it
    assert rho >= 0.8 and feh[-1] - feh[0] >= 0.05, (rho, feh.round(2).tolist())
