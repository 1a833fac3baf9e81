"""Draws from the Gaussian copula of real RRab shapes (rrab_shapes.json, written by
bench/fit_shape_copula.py from real DR3 curves: marginal quantiles and the correlation of normal
scores, no individual star)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import numpy as np


@cache
def summary() -> dict:
    """The committed summary (read once per process)."""
    return json.loads(resources.files("rrlfeh.sim").joinpath("rrab_shapes.json").read_text())


def draw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """n joint draws of every parameter of the summary: z ~ N(0, C), u = Phi(z), each parameter
    its marginal's quantile at u (linear between the stored levels)."""
    from scipy.stats import norm

    s = summary()
    names, levels = s["parameters"], np.asarray(s["levels"])
    chol = np.linalg.cholesky(np.asarray(s["correlation"]) + 1e-9 * np.eye(len(names)))
    u = norm.cdf(rng.standard_normal((n, len(names))) @ chol.T)
    return {k: np.interp(u[:, j], levels, np.asarray(s["quantiles"][k])) for j, k in enumerate(names)}
