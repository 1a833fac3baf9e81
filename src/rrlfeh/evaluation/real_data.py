"""Reading a labelled (or unlabelled) real-star folder in archive layout for measurements:
the catalogue, its clean G curves and the labels, through the same readers `rrlfeh predict` uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rrlfeh.core import curve
from rrlfeh.core.ragged import LightCurves
from rrlfeh.evaluation.curve_stats import curves_from_epochs
from rrlfeh.serving.star_rows import star_table
from rrlfeh.sources.files import discover, iter_epoch_batches, read_vari_table
from rrlfeh.sources.labels import read_labels_table


def read_real(folder: Path | str, stars_per_batch: int = 5000) -> tuple[pd.DataFrame, LightCurves]:
    """(stars, curves): one row per catalogue star (source_id, type, period, epoch_g and feh where
    labelled), and the clean G curves of those stars in the same order."""
    files = discover([Path(folder)])
    stars = star_table(read_vari_table(files.vari))
    if files.labels is not None:
        labels = read_labels_table(files.labels).drop_duplicates("source_id")
        stars = stars.merge(labels[["source_id", "feh"]], on="source_id", how="left")
    else:
        stars = stars.assign(feh=np.nan)
    cols = list(curve.EPOCH_COLUMNS)
    g_rows = [b.loc[curve.in_band(b["band"]), cols]
              for b in iter_epoch_batches(files.epochs, stars_per_batch)]
    epochs = pd.concat(g_rows, ignore_index=True) if g_rows else pd.DataFrame(columns=cols)
    return stars, curves_from_epochs(epochs, stars)
