"""rrab.shapes copula: the simulator draws P and the light-curve shape jointly from the committed
summary of real RRab shapes, and [Fe/H] follows from the relation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rrlfeh.config import ConfigError, from_dict
from rrlfeh.config.simulate import RRabPhysics
from rrlfeh.sim.populations import draw_rrab, relation_feh
from rrlfeh.sim.shape_copula import draw, summary

COPULA = dataclasses.replace(RRabPhysics(), shapes="copula")


def test_the_summary_holds_no_star():
    s = summary()
    assert set(s) == {"source", "selection", "n_stars", "parameters", "levels", "quantiles", "correlation"}
    assert s["n_stars"] >= 500
    assert len(s["levels"]) == len(s["quantiles"]["phi31"]) <= 201  # quantiles, not stars


def test_draws_follow_the_marginals_and_the_correlations():
    s = summary()
    v = draw(np.random.default_rng(0), 20_000)
    for k in s["parameters"]:
        q = np.asarray(s["quantiles"][k])
        mid = len(q) // 2
        assert np.median(v[k]) == pytest.approx(q[mid], abs=0.05 * (q[-1] - q[0]))
        assert q[0] <= v[k].min() and v[k].max() <= q[-1]
    names = s["parameters"]
    i, j = names.index("A1"), names.index("R21")
    want = s["correlation"][i][j]
    got = np.corrcoef(v["A1"], v["R21"])[0, 1]
    assert abs(want) > 0.2 and np.sign(got) == np.sign(want)


def test_the_copula_population_is_labelled_by_the_relation():
    pop = draw_rrab(np.random.default_rng(1), 3000, COPULA, "photometric")
    phi31 = np.mod(pop.phase[:, 2] - 3 * pop.phase[:, 0], 2 * np.pi)
    phi31 = np.where(phi31 > 2.3 + np.pi, phi31 - 2 * np.pi, phi31)  # the relation's branch
    np.testing.assert_allclose(pop.label, relation_feh(COPULA.relation, pop.period, phi31), atol=1e-9)
    assert (pop.period >= COPULA.period_min).all() and (pop.period <= COPULA.period_max).all()
    assert pop.amp.shape == (3000, 6) and (pop.amp[:, 0] >= COPULA.a1_min).all()
    spec = draw_rrab(np.random.default_rng(1), 3000, COPULA, "spectroscopic")
    # the true [Fe/H] scatters about the relation by its intrinsic phi31 scatter through the slope
    sd = np.std(spec.feh_true - spec.feh_relation)
    assert sd == pytest.approx(COPULA.relation.shape_slope * COPULA.phi31_scatter_spectroscopic, rel=0.1)


def test_an_unknown_shape_source_is_refused():
    with pytest.raises(ConfigError, match="shapes"):
        from_dict(RRabPhysics, {"shapes": "templates"}, where="rrab")
