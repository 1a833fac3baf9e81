"""tune.min_epochs (ShortestRoundHyperbandOracle): Hyperband's shortest round, so no trial is ranked on the GRU's early plateau."""

from __future__ import annotations

import keras_tuner as kt

from rrlfeh.model.hyperband import ShortestRoundHyperbandOracle


def _first_rounds(oracle, n_trials: int) -> list[tuple[int, int]]:
    """(bracket, epochs) of the first n trials the oracle would start."""
    out = []
    for i in range(n_trials):
        values = oracle.populate_space(f"{i:04d}")["values"]
        out.append((values["tuner/bracket"], values["tuner/epochs"]))
        oracle.ongoing_trials[f"t{i}"] = None  # keep it busy so the next one is a new trial
    return out


def test_default_brackets_start_at_a_few_epochs_and_min_epochs_removes_them():
    hp = kt.HyperParameters()
    hp.Choice("x", list(range(100)))
    plain = kt.oracles.HyperbandOracle(objective=kt.Objective("loss", "min"), max_epochs=90, factor=3,
                                       seed=0, hyperparameters=hp)
    assert _first_rounds(plain, 3)[0][1] == 2  # keras-tuner's own plan: rounds of 2 epochs first

    hp = kt.HyperParameters()
    hp.Choice("x", list(range(100)))
    oracle = ShortestRoundHyperbandOracle(objective=kt.Objective("loss", "min"), max_epochs=90, factor=3,
                                          seed=0, hyperparameters=hp, min_epochs=30)
    assert oracle._get_num_brackets() == 2 and oracle.get_state()["min_epochs"] == 30
    rounds = _first_rounds(oracle, 9)
    assert rounds == [(1, 30)] * 9  # the first bracket: 9 trials of 30 epochs, then 3 go on to 90


def test_the_shortest_round_survives_a_reload():
    hp = kt.HyperParameters()
    hp.Choice("x", list(range(100)))
    oracle = ShortestRoundHyperbandOracle(objective=kt.Objective("loss", "min"), max_epochs=90, factor=3,
                                          seed=0, hyperparameters=hp, min_epochs=30)
    _first_rounds(oracle, 2)
    oracle.ongoing_trials = {}
    state = oracle.get_state()
    again = ShortestRoundHyperbandOracle(objective=kt.Objective("loss", "min"), max_epochs=90, factor=3,
                                         seed=0, hyperparameters=hp, min_epochs=30)
    again.set_state(state)
    assert again.get_state()["brackets"] == state["brackets"] and again._get_num_brackets() == 2
