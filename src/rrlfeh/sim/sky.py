"""Sky positions and Gaia-like identifiers of simulated stars."""

from __future__ import annotations

import numpy as np

from rrlfeh.config.simulate import Sky

# Gaia source_id = HEALPix level-12 index * 2^35 + a running number, so ids span
# [2^35, 12 4^12 2^35).
SOURCE_ID_MIN = 2**35
SOURCE_ID_MAX = 12 * 4**12 * 2**35


def positions(rng: np.random.Generator, n: int, cfg: Sky) -> tuple[np.ndarray, np.ndarray]:
    """ICRS (ra, dec) in degrees: an isotropic halo plus a thin-disk share near b = 0."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    disk = rng.random(n) < cfg.disk_fraction
    lon = 360.0 * rng.random(n)
    halo_b = np.degrees(np.arcsin(2.0 * rng.random(n) - 1.0))
    disk_b = np.clip(rng.laplace(0.0, cfg.disk_scale_height_deg, n), -90.0, 90.0)
    lat = np.where(disk, disk_b, halo_b)
    icrs = SkyCoord(l=lon * u.deg, b=lat * u.deg, frame="galactic").icrs
    return icrs.ra.deg, icrs.dec.deg


def source_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct positive int64 ids in the Gaia DR3 range, in random order."""
    ids = np.unique(rng.integers(SOURCE_ID_MIN, SOURCE_ID_MAX, size=n, dtype=np.int64))
    while len(ids) < n:  # collisions are astronomically rare; top up rather than assume
        extra = rng.integers(SOURCE_ID_MIN, SOURCE_ID_MAX, size=n - len(ids), dtype=np.int64)
        ids = np.unique(np.concatenate([ids, extra]))
    return rng.permutation(ids)
