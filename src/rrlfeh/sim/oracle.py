"""The simulator's noise floor: the photometric relation applied to a Fourier fit of each star's
noisy clean epochs at the true period (RRab: P-phi31, RRc: P-R21). A model cannot beat it by much:
it knows the relation and the period and only has to pin down the shape from the same epochs."""

from __future__ import annotations

import numpy as np

from rrlfeh.config.simulate import Relation
from rrlfeh.core.fourier import FourierFit
from rrlfeh.sim.populations import relation_feh


def wrap_near(angle: np.ndarray, center: float) -> np.ndarray:
    """Angle moved by whole turns into [center - pi, center + pi)."""
    return center + np.mod(np.asarray(angle) - center + np.pi, 2.0 * np.pi) - np.pi


def oracle_feh(kind: str, fit: FourierFit, relation: Relation) -> np.ndarray:
    """[Fe/H] from the relation and the fitted shape; NaN where the fit lacks the harmonics."""
    if kind == "RRab":
        # phi31 is defined mod 2 pi; the relation holds on the branch around its pivot.
        shape = wrap_near(fit.phi_k1(3), relation.shape_pivot)
    elif kind == "RRc":
        shape = fit.r_k1(2)
    else:
        return np.full(len(fit.mean), np.nan)
    return relation_feh(relation, fit.period, shape)
