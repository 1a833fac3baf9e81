"""Where the epoch photometry comes from: the simulator, the Gaia archive, the user's files, label
catalogues (the extract stage)."""
