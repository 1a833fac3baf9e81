"""Helpers the tests and bench/ share, imported as `tests.support.<module>` (pytest puts the
repository root on sys.path; bench scripts run as `python -m bench.<name>` from the root).

No test file imports another test file or a conftest: what two of them need lives here
(tests/structure/test_test_imports.py checks it).
"""
