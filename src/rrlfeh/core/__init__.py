"""The bottom of the package: the tables' schema, the one curve contract, table formats and
streaming epoch photometry in chunks of whole stars, Fourier fits of light curves."""
