"""rrlfeh: photometric [Fe/H] of RR Lyrae stars from Gaia G-band light curves with a GRU."""

__version__ = "0.1.0"
