"""Figures of the data stages: the Bailey diagram (Monti et al. 2025, Fig. 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rrlfeh.core import schema

MARKERS = {"RRab": "o", "RRc": "^"}


def bailey_diagram(kept: pd.DataFrame, labels: pd.DataFrame, path: Path,
                   rejected: pd.DataFrame | None = None) -> Path:
    """G peak-to-peak amplitude against period of the kept stars, coloured by [Fe/H].

    `kept` and `rejected` are vari_rrlyrae rows; rejected stars (and kept ones without a label) are
    drawn in grey so the cuts' effect on the diagram is visible.
    """
    from matplotlib.figure import Figure  # no pyplot: no global backend state

    feh = labels.drop_duplicates("source_id").set_index("source_id")["feh"]
    fig = Figure(figsize=(7, 5), layout="constrained")
    ax = fig.add_subplot()
    if rejected is not None and len(rejected):
        period, amp = schema.period_of(rejected), rejected["peak_to_peak_g"]
        shown = np.isfinite(period) & np.isfinite(amp)  # RRd and unknown classes have no period here
        ax.scatter(period[shown], amp[shown], s=4, c="0.85", marker=".",
                   label=f"rejected RRab/RRc ({int(shown.sum())})", rasterized=True)
    colour = None
    finite = feh[np.isfinite(feh)]
    vmin, vmax = (finite.min(), finite.max()) if len(finite) else (-2.5, 0.0)
    for star_type, marker in MARKERS.items():
        rows = kept[kept["best_classification"] == star_type]
        if not len(rows):
            continue
        period, amp = schema.period_of(rows), rows["peak_to_peak_g"]
        value = feh.reindex(rows["source_id"].to_numpy()).to_numpy()
        has = np.isfinite(value)
        if (~has).any():
            ax.scatter(period[~has], amp[~has], s=8, c="0.55", marker=marker,
                       label=f"{star_type} unlabelled ({int((~has).sum())})", rasterized=True)
        if has.any():
            colour = ax.scatter(period[has], amp[has], s=8, c=value[has], cmap="viridis",
                                vmin=vmin, vmax=vmax, marker=marker,
                                label=f"{star_type} ({int(has.sum())})", rasterized=True)
    if colour is not None:
        fig.colorbar(colour, ax=ax, label="[Fe/H] (dex)")
    ax.set_xlabel("period (d): pf for RRab, p1_o for RRc")
    ax.set_ylabel("G peak-to-peak amplitude (mag)")
    ax.set_title(f"Bailey diagram of the clean sample ({len(kept)} stars)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize="small", markerscale=2)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
