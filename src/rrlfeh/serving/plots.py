"""Figures of a predicted catalogue: the sky in galactic coordinates coloured by [Fe/H] (paper
Fig. 8) and predicted against catalogue [Fe/H] coloured by epoch count (Fig. 7, when labels exist)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def galactic_lonlat(ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ICRS (deg) -> galactic (l, b) in radians, l wrapped to (-pi, pi] for an all-sky projection."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    gal = SkyCoord(ra=np.asarray(ra) * u.deg, dec=np.asarray(dec) * u.deg, frame="icrs").galactic
    return gal.l.wrap_at(180 * u.deg).radian, gal.b.radian


def plot_sky(cat: pd.DataFrame, path: Path) -> Path | None:
    """Mollweide map of the stars with ra/dec, l increasing to the left, coloured by [Fe/H]."""
    from matplotlib.figure import Figure

    sel = cat[np.isfinite(cat["ra"]) & np.isfinite(cat["dec"]) & np.isfinite(cat["feh"])]
    if sel.empty:
        return None
    lon, lat = galactic_lonlat(sel["ra"].to_numpy(), sel["dec"].to_numpy())
    fig = Figure(figsize=(10, 5.5))
    ax = fig.add_subplot(projection="mollweide")
    size = 2.0 if len(sel) > 20000 else 6.0
    lo, hi = np.percentile(sel["feh"], [1, 99])  # a few outliers must not flatten the colour scale
    pts = ax.scatter(-lon, lat, c=sel["feh"], s=size, cmap="viridis", vmin=lo, vmax=hi,
                     linewidths=0, rasterized=True)
    ax.set_xticks(np.radians([-120, -60, 0, 60, 120]))
    ax.set_xticklabels(["120°", "60°", "0°", "300°", "240°"], fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title(f"Predicted [Fe/H] of {len(sel):,} RR Lyrae, galactic coordinates (l, b)")
    fig.colorbar(pts, ax=ax, orientation="horizontal", fraction=0.05, pad=0.07, label="[Fe/H] (dex)")
    return _save(fig, path)


def plot_vs_labels(cat: pd.DataFrame, path: Path) -> Path | None:
    """Predicted against catalogue [Fe/H], coloured by epoch count; None without labels."""
    from matplotlib.figure import Figure

    if "feh_label" not in cat.columns:
        return None
    sel = cat[np.isfinite(cat["feh_label"]) & np.isfinite(cat["feh"])]
    if sel.empty:
        return None
    x, y = sel["feh_label"].to_numpy(), sel["feh"].to_numpy()
    resid = y - x
    fig = Figure(figsize=(6.5, 5.5))
    ax = fig.add_subplot()
    order = np.argsort(sel["n_epochs"].to_numpy())  # well-sampled stars drawn on top
    pts = ax.scatter(x[order], y[order], c=sel["n_epochs"].to_numpy()[order], s=6, cmap="plasma",
                     linewidths=0, rasterized=True)
    lo, hi = float(min(x.min(), y.min())) - 0.1, float(max(x.max(), y.max())) + 0.1
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="catalogue [Fe/H] (dex)",
           ylabel="predicted [Fe/H] (dex)",
           title=f"n = {len(sel):,}  bias {resid.mean():+.3f}  RMSE {np.sqrt(np.mean(resid**2)):.3f} dex")
    fig.colorbar(pts, ax=ax, label="clean G epochs")
    return _save(fig, path)


def plot_catalogue(cat: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Every figure the catalogue supports, written under out_dir; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    made = [plot_sky(cat, out_dir / "sky_feh.png"), plot_vs_labels(cat, out_dir / "feh_vs_labels.png")]
    return [p for p in made if p is not None]


def _save(fig, path: Path) -> Path:
    # A bare Figure (no pyplot): no global state, no GUI backend, nothing to close.
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    return Path(path)
