"""Great Expectations results of a table validated chunk by chunk, merged into the table's result.

GX still checks every row; only its per-chunk SUMMARY results are added up, and formatted by GX's
own map-result formatter, so that the merged result is what one run over the whole table gives
(same counts, same first offending rows). That holds for row-wise expectations, and for uniqueness
of keys that include source_id when the chunks hold whole stars. Table-level expectations (row
counts, `mostly` thresholds) cannot be added up: they belong on tables validated whole.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
# private, but it is the formatter GX applies to a map expectation's counts: reusing it keeps the
# merged result identical to a whole-table one (tested in tests/data/test_chunked_stages.py)
from great_expectations.expectations.expectation import _format_map_output
from great_expectations.expectations.expectation_configuration import parse_result_format
from great_expectations.validator.validation_statistics import calc_validation_statistics


class ChunkedResult:
    """GX's result over consecutive chunks of one table, and the source_ids of the offending rows
    it lists (`offenders`, per expectation, in table order)."""

    def __init__(self, result_format: dict):
        self.result_format = parse_result_format(dict(result_format))
        self.result: ExpectationSuiteValidationResult | None = None
        self.offenders: list[list[int]] = []
        self.rows = 0

    def add(self, chunk: ExpectationSuiteValidationResult, source_id: pd.Series) -> None:
        """Fold in the result of the next chunk; `source_id` is that chunk's column (row labels
        0..n-1, as GX lists offending rows)."""
        ids = [_offender_ids(r, source_id) for r in chunk.results]
        if self.result is None:
            self.result, self.offenders = chunk, ids
        else:
            limit = self.result_format["partial_unexpected_count"]
            for mine, theirs in zip(self.result.results, chunk.results, strict=True):
                self._merge(mine, theirs)
            self.offenders = [(a + b)[:limit] for a, b in zip(self.offenders, ids)]
            self._restate_statistics()
        self.rows += len(source_id)

    def _merge(self, mine: ExpectationValidationResult,
               theirs: ExpectationValidationResult) -> None:
        if _raised(mine):
            return
        if _raised(theirs):  # the first error is the one reported
            mine.success, mine.result = False, theirs.result
            mine.exception_info = theirs.exception_info
            return
        a, b = mine.result, theirs.result
        kind = mine.expectation_config.type
        if "unexpected_count" not in a or mine.expectation_config.kwargs.get("mostly", 1) != 1:
            raise ValueError(f"{kind} is not row-wise: validate its table whole, not in chunks")
        n = a["element_count"] + b["element_count"]
        nonnull = n - a["missing_count"] - b["missing_count"] if "missing_count" in a else None
        mine.success = bool(mine.success and theirs.success)
        mine.result = _format_map_output(
            result_format=self.result_format, success=mine.success, element_count=n,
            nonnull_count=nonnull, unexpected_count=a["unexpected_count"] + b["unexpected_count"],
            unexpected_list=a["partial_unexpected_list"] + b["partial_unexpected_list"],
            unexpected_index_list=a["partial_unexpected_index_list"]
            + [i + self.rows for i in b["partial_unexpected_index_list"]],
        )["result"]

    def _restate_statistics(self) -> None:
        stats = calc_validation_statistics(self.result.results)
        self.result.success = stats.success
        self.result.statistics.update({k: getattr(stats, k) for k in self.result.statistics})


def _raised(r: ExpectationValidationResult) -> bool:
    """GX reports an expectation that could not run either flat or keyed by metric."""
    info = r.exception_info or {}
    if "raised_exception" in info:
        return bool(info["raised_exception"])
    return any(isinstance(v, dict) and v.get("raised_exception") for v in info.values())


def _offender_ids(r: ExpectationValidationResult, source_id: pd.Series) -> list[int]:
    labels = [i for i in (r.result or {}).get("partial_unexpected_index_list") or []
              if isinstance(i, (int, np.integer))]
    return [int(i) for i in source_id.to_numpy()[labels]]
