"""Measuring models and simulated data against real stars: the fixed calibration/scoring split of a
labelled set, light-curve statistics shared by the simulator calibration and the real-star
benchmark, and the linear P-phi31 baseline (docs/REAL_STARS.md)."""
