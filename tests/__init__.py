"""The test suite; its shared helpers are the package `tests.support`."""
