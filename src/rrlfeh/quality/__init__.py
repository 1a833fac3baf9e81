"""The quality gates between stages: Great Expectations suites (validate) and the cleaning cuts
with their rejects table (clean)."""
