"""Preprocess figures: standardized curves (paper Fig. 2), [Fe/H] with its weights (Fig. 3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure


def curve_grid(X: np.ndarray, source_id: np.ndarray, y: np.ndarray, period: np.ndarray,
               path: Path, n_panels: int = 16) -> Path:
    """Standardized curves of stars spread evenly over [Fe/H] (over the period if unlabelled)."""
    fig = Figure(figsize=(12, 9))  # fixed margins: constrained layout costs seconds on 16 axes
    if len(X) == 0:
        fig.text(0.5, 0.5, "no curves", ha="center")
        return _save(fig, path)
    labelled = np.flatnonzero(np.isfinite(y))
    pool = labelled if len(labelled) else np.arange(len(X))
    pool = pool[np.argsort((y if len(labelled) else period)[pool], kind="stable")]
    spread = np.linspace(0, len(pool) - 1, min(n_panels, len(pool))).round().astype(int)
    pick = pool[np.unique(spread)]
    axes = fig.subplots(4, 4, sharex=True, sharey=True,
                        gridspec_kw={"left": 0.07, "right": 0.98, "bottom": 0.07, "top": 0.94,
                                     "hspace": 0.45, "wspace": 0.08}).ravel()
    for ax, i in zip(axes, pick):
        phase = X[i, :, 0] / period[i]
        for shift, alpha in ((0, 1.0), (1, 0.4)):
            ax.plot(phase + shift, X[i, :, 1], lw=1.2, color="C0", alpha=alpha)
        label = f"[Fe/H]={y[i]:.2f}" if np.isfinite(y[i]) else "unlabelled"
        ax.set_title(f"{source_id[i]}\nP={period[i]:.3f} d, {label}", fontsize=7)
    for ax in axes[len(pick):]:
        ax.set_visible(False)
    axes[0].invert_yaxis()  # magnitudes: bright up
    fig.supxlabel("phase (0 = maximum light)")
    fig.supylabel("standardized G magnitude")
    return _save(fig, path)


def feh_weights(y: np.ndarray, w: np.ndarray, path: Path) -> Path:
    """Histogram of the labels with the KDE weight of each star on a second axis."""
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    labelled = np.isfinite(y)
    if not labelled.any():
        ax.text(0.5, 0.5, "no labels", ha="center", transform=ax.transAxes)
        return _save(fig, path)
    ax.hist(y[labelled], bins=40, color="0.7")
    ax.set_xlabel("[Fe/H] (dex)")
    ax.set_ylabel("stars")
    ax2 = ax.twinx()
    order = np.argsort(y[labelled])
    ax2.plot(y[labelled][order], w[labelled][order], color="C3")
    ax2.set_yscale("log")
    ax2.set_ylabel("KDE weight", color="C3")
    ax.set_title(f"{int(labelled.sum())} labelled stars; weights sum to N, mean 1")
    return _save(fig, path)


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
