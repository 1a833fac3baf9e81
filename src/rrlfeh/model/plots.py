"""Figures of the train stage (after the paper's Figs. 5-7); pure matplotlib Figure objects, no pyplot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure


def learning_curves(histories: list[tuple[str, dict]], path: Path, key: str = "loss") -> Path:
    """Training and validation loss per epoch, one line pair per fold (Fig. 5)."""
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    for i, (name, hist) in enumerate(histories):
        color = f"C{i % 10}"
        tr, va = hist.get(key, []), hist.get(f"val_{key}", [])
        ax.plot(np.arange(1, len(tr) + 1), tr, color=color, alpha=0.8, label=f"{name} train")
        ax.plot(np.arange(1, len(va) + 1), va, color=color, ls="--", alpha=0.8, label=f"{name} val")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"weighted {key.upper() if key != 'loss' else 'loss (MSE)'}")
    ax.set_yscale("log")
    ax.set_title("Learning curves (solid: training folds, dashed: validation folds)")
    if len(histories) <= 5:
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def pred_vs_true(panels: dict[str, tuple[np.ndarray, np.ndarray]], metrics: dict[str, dict], path: Path) -> Path:
    """Predicted vs catalogue [Fe/H], one panel per set (Fig. 6)."""
    fig = Figure(figsize=(4.2 * len(panels), 4.2))
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (name, (y, p)) in zip(axes, panels.items()):
        lo, hi = float(min(y.min(), p.min())) - 0.1, float(max(y.max(), p.max())) + 0.1
        ax.scatter(y, p, s=4, alpha=0.4, color="k", lw=0)
        ax.plot([lo, hi], [lo, hi], color="C3", lw=1)
        m = metrics.get(name) or {}
        if m:
            ax.text(0.04, 0.96, f"R²={m['r2']:.3f}\nwRMSE={m['wrmse']:.3f}\nwMAE={m['wmae']:.3f}",
                    transform=ax.transAxes, va="top", fontsize=8)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.set_xlabel("[Fe/H] label (dex)")
        ax.set_ylabel("[Fe/H] predicted (dex)")
        ax.set_title(name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def residuals_vs_epochs(n_epochs: np.ndarray, residual: np.ndarray, path: Path, n_bins: int = 8) -> Path:
    """Residuals against the number of G epochs, with the binned RMSE (precision grows with epochs)."""
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    ax.scatter(n_epochs, residual, s=4, alpha=0.4, color="k", lw=0)
    ax.axhline(0, color="C3", lw=1)
    edges = np.unique(np.quantile(n_epochs, np.linspace(0, 1, n_bins + 1)))
    if edges.size > 1:
        which = np.clip(np.searchsorted(edges, n_epochs, side="right") - 1, 0, edges.size - 2)
        centers = [np.median(n_epochs[which == b]) for b in range(edges.size - 1) if (which == b).any()]
        rmse = [np.sqrt(np.mean(residual[which == b] ** 2)) for b in range(edges.size - 1) if (which == b).any()]
        ax.plot(centers, rmse, "o-", color="C0", label="RMSE per bin")
        ax.plot(centers, -np.asarray(rmse), "o-", color="C0")
        ax.legend(fontsize=8)
    ax.set_xlabel("clean G epochs")
    ax.set_ylabel("predicted − label [Fe/H] (dex)")
    ax.set_title("Out-of-fold residuals vs number of epochs")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def reliability(normalized: dict[str, np.ndarray], path: Path) -> Path:
    """Observed against nominal coverage of the central Gaussian interval, per set of residuals
    divided by their feh_error: on the diagonal, the uncertainty is calibrated."""
    from scipy.stats import norm

    z = np.linspace(0.05, 3.0, 60)
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    for name, r in normalized.items():
        r = np.abs(np.asarray(r, float))
        r = r[np.isfinite(r)]
        if len(r):
            ax.plot(2 * norm.cdf(z) - 1, [np.mean(r <= v) for v in z], label=f"{name} ({len(r)})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.axvline(0.683, color="grey", lw=0.5)
    ax.set_xlabel("nominal coverage")
    ax.set_ylabel("observed coverage")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path
