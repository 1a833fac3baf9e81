"""The embedded simulator of Gaia-like RR Lyrae light curves (docs/SIMULATOR.md)."""
