"""Property-based fuzzing (Hypothesis) of the request parser and the file readers: whatever comes
in, the answer is a per-star reason, a one-line PayloadError/DataError, or a possible star; never
a traceback, never an impossible star passed on. Examples are bounded so the tier stays short.
Headers that lie about a VOTable's data, and categories spelled in any case or spacing, each have
a property of their own (they found a MemoryError, empty reads and predict/serve disagreeing)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rrlfeh.core import schema
from rrlfeh.core.epoch_stream import iter_epoch_batches
from rrlfeh.core.formats import read_table_file
from rrlfeh.errors import DataError
from rrlfeh.serving import front, payload, sanity
from tests.support.hostile import VOTABLE_COLUMNS, epoch_votable, predict_outcome, served_outcome, set_field
from tests.support.model_fixture import simulate

FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-2**70, 2**70),
                    st.sampled_from([1700.0, 2000.5, 2455197.5 + 1800, 1e15, -1.0, 0.0, 16.5]))
cells = st.one_of(st.none(), st.text(max_size=5), st.booleans(), numbers,
                  st.lists(numbers, max_size=80), st.lists(st.lists(numbers, max_size=3), max_size=3))
ids = st.one_of(st.integers(-2**65, 2**65), st.floats(), st.text(max_size=20), st.none(), st.booleans())
stars = st.fixed_dictionaries({
    "source_id": ids, "type": st.one_of(st.sampled_from(["RRab", "RRc", "rrab", "RRd", ""]), cells),
    "period": st.one_of(numbers, st.none()), "epoch_g": st.one_of(numbers, st.none()),
    "time": cells, "mag": cells})


@FAST
@given(st.lists(stars, min_size=1, max_size=6))
def test_any_request_is_parsed_or_refused_in_one_line(records):
    df = pd.DataFrame(records)
    try:
        req = payload.parse_request(df)
    except payload.PayloadError:
        return
    assert len(req) == len(df)
    b = sanity.Bounds()
    for i in range(len(req)):
        if req.reason[i]:
            continue
        t, m = req.curves.times()[i], req.curves.mags()[i]
        assert len(t) == len(m) == req.n_epochs[i] > 0
        assert np.all((t >= b.time_window[0]) & (t <= b.time_window[1]))  # no impossible time
        assert np.all((m >= b.mag_range[0]) & (m <= b.mag_range[1]))
        assert 0 < req.source_id[i] <= sanity.SOURCE_ID_MAX
        assert len(np.unique(t)) == len(t)  # no epoch counted twice


good_csv = (b"source_id,transit_id,band,time,mag,rejected_by_variability\n"
            b"5,1,G,1700.5,16.1,False\n5,2,G,1701.5,16.3,False\n")


@FAST
@given(st.sampled_from([".csv", ".ecsv", ".xml", ".fits", ".parquet"]),
       st.one_of(st.binary(max_size=400), st.builds(lambda cut: good_csv[:cut],
                                                    st.integers(0, len(good_csv)))))
def test_any_bytes_are_a_table_or_one_data_error(suffix, data):
    try:
        df = read_table_file(Path("epoch_photometry" + suffix), data=data)
    except DataError as exc:
        assert "\n" not in str(exc).strip()
        return
    assert isinstance(df, pd.DataFrame)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.integers(1, 10**6), st.binary(max_size=200)), min_size=1, max_size=5))
def test_any_zip_member_is_rows_or_the_stars_reason(tmp_path_factory, members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for sid, data in {sid: d for sid, d in members}.items():
            zf.writestr(f"EPOCH_PHOTOMETRY-Gaia DR3 {sid}.csv", data)
    path = tmp_path_factory.mktemp("fz") / "e.zip"
    path.write_bytes(buf.getvalue())
    issues: list = []
    try:
        rows = list(iter_epoch_batches([path], 3, issues))
    except DataError:
        return
    seen = {int(s) for r in rows for s in r["source_id"].unique()} | {i.source_id for i in issues}
    assert seen <= {sid for sid, _ in members}


# strings full of what a bracket counter could mistake for nesting: brackets, quotes, backslashes
tricky = st.text(alphabet='[]{}"\\ ,:aé', max_size=12)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), tricky),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(tricky, inner, max_size=4)),
    max_leaves=25)


def _depth(value) -> int:
    """The reference: nesting depth by recursion over the parsed value (0 for a scalar)."""
    if isinstance(value, (list, dict)):
        kids = value.values() if isinstance(value, dict) else value
        return 1 + max((_depth(v) for v in kids), default=0)
    return 0


def _nested(depth: int, wrappers: list[bool], leaf, beside: str):
    """`leaf` wrapped `depth` times in a list or an object, each level with a tricky string."""
    for k in range(depth):
        leaf = [beside, leaf] if wrappers[k % len(wrappers)] else {beside: leaf, "s": beside}
    return leaf


def _agrees_with_recursion(depth_fn):
    @FAST
    @given(json_values, st.booleans())
    def check(value, ascii_only):
        body = json.dumps(value, ensure_ascii=ascii_only).encode()
        assert depth_fn(body) == _depth(value), body
    return check


test_json_depth_is_the_nesting_depth = _agrees_with_recursion(front.json_depth)


def _naive_depth(body: bytes) -> int:
    """A counter that forgets strings: what the property must catch."""
    steps = np.array([{91: 1, 123: 1, 93: -1, 125: -1}.get(b, 0) for b in body])
    return int(np.cumsum(steps).max(initial=0))


def test_the_depth_property_catches_a_counter_blind_to_strings():
    with pytest.raises(AssertionError):
        _agrees_with_recursion(_naive_depth)()


@FAST
@given(st.integers(0, 200), st.lists(st.booleans(), min_size=1, max_size=5),
       st.one_of(st.integers(), tricky), tricky)
def test_json_deeper_than_the_limit_is_a_400_the_rest_passes(depth, wrappers, leaf, beside):
    body = json.dumps(_nested(depth, wrappers, leaf, beside)).encode()
    answer = front.check_request("application/json", body, 2**26)
    if depth <= front.MAX_JSON_DEPTH:
        assert answer is None
    else:
        assert answer is not None and answer[0] == 400
        assert "nested deeper than" in json.loads(answer[1])["message"]


@FAST
@given(st.binary(max_size=300))
def test_any_json_body_is_passed_or_one_strict_json_answer(body):
    answer = front.check_request("application/json", body, 2**26)
    if answer is not None:
        assert answer[0] == 400 and json.loads(answer[1])["error_code"] == "BAD_REQUEST"


# Lying VOTable headers: astropy writes a valid epoch VOTable, then one FIELD's datatype and/or
# arraysize (and maybe the TABLE's nrows) is changed, the data left as it was.
DATATYPES = ["boolean", "bit", "unsignedByte", "short", "int", "long", "char", "unicodeChar",
             "float", "double", "floatComplex", "doubleComplex"]
arraysizes = st.one_of(st.integers(0, 10**10).map(str), st.integers(15, 400).map(lambda k: "9" * k),
                       st.sampled_from(["*", "1*", "8*", "2x*", "3x2", "1", "0", "-1", "x", ""]),
                       st.text(alphabet="0123456789x*- e", max_size=8))
datatypes = st.one_of(st.sampled_from(DATATYPES), st.text(alphabet="abcdefgioprstuz", max_size=8))
lies = st.one_of(st.fixed_dictionaries({"arraysize": arraysizes}),
                 st.fixed_dictionaries({"datatype": datatypes}),
                 st.fixed_dictionaries({"arraysize": arraysizes, "datatype": datatypes}))
_ONE_STAR = simulate(1, seed=11)["epoch_photometry"].head(40)
_ONE_STAR = pd.concat([_ONE_STAR, _ONE_STAR.head(3).assign(band="BP")], ignore_index=True)


@FAST
@given(st.sampled_from(["binary", "binary2", "tabledata"]), st.integers(1, 8),
       st.sampled_from(VOTABLE_COLUMNS), lies, st.one_of(st.none(), st.integers(0, 10**30)))
def test_a_votable_header_that_lies_is_refused_in_one_line_or_read_whole(
        tmp_path_factory, serialization, n, column, lie, nrows):
    """The rows written, or a DataError of one line naming the file: never a MemoryError or
    another traceback, never 0 rows from data that holds rows. With one row (or TABLEDATA, whose
    rows are TR elements) nothing can make the lie consistent with the data, so the row count must
    be right; with more rows in a BINARY stream a lie can be (a field grown by whole rows reads as
    fewer, longer rows: nothing in the file tells), so there only the rest is checked."""
    xml = set_field(epoch_votable(_ONE_STAR.head(n), serialization), column, **lie)
    if nrows is not None:
        xml = xml.replace(b"<TABLE>", f'<TABLE nrows="{nrows}">'.encode(), 1)
    path = tmp_path_factory.mktemp("vot") / "epoch_photometry.xml"
    path.write_bytes(xml)
    try:
        rows = sum(len(b) for b in iter_epoch_batches([path], 100))
    except DataError as exc:
        assert "\n" not in str(exc).strip() and str(path) in str(exc), str(exc)
        return
    assert rows > 0
    if n == 1 or serialization == "tabledata":
        assert rows == n


# Case and spacing variants of the categorical columns of the input tables (best_classification,
# band, the archive's boolean flags) and of the served model's `type`.
def spelled(word: str, inside: bool = True):
    """`word` as users and archives write it: any case, spaces around it, and for a name ('RR ab',
    'B P') inside it; a boolean flag ('t rue') is not written with a space inside."""
    def write(cases, inner, left, right):
        text = "".join(c.upper() if up else c.lower() for c, up in zip(word, cases))
        at = inner[0] % (len(text) + 1)
        return left + text[:at] + inner[1] + text[at:] + right

    pad = st.sampled_from(["", " ", "  ", "\t"])
    space = st.sampled_from(["", "", " "] if inside else [""])
    return st.builds(write, st.lists(st.booleans(), min_size=len(word), max_size=len(word)),
                     st.tuples(st.integers(0, 9), space), pad, pad)


_STARS = simulate(2, seed=12)
_TYPES = list(_STARS["vari_rrlyrae"]["best_classification"])
_EPOCHS = _STARS["epoch_photometry"].groupby("source_id").head(30)
_EPOCHS = pd.concat([_EPOCHS, _EPOCHS.head(12).assign(band="BP"), _EPOCHS.tail(12).assign(band="RP")],
                    ignore_index=True).sort_values(["source_id", "band"], kind="stable",
                                                   ignore_index=True)
_EPOCHS["rejected_by_variability"] = np.arange(len(_EPOCHS)) % 7 == 0
_CANONICAL = (predict_outcome(_STARS["vari_rrlyrae"], _EPOCHS),
              served_outcome(_STARS["vari_rrlyrae"], _EPOCHS))


@FAST
@given(st.tuples(*(spelled(t) for t in _TYPES)),
       st.fixed_dictionaries({b: st.lists(spelled(b), min_size=1, max_size=4) for b in schema.BANDS}),
       st.fixed_dictionaries({f: st.lists(spelled(f, inside=False), min_size=1, max_size=3)
                              for f in ("True", "False")}))
def test_a_category_in_any_case_or_spacing_is_the_canonical_one(types, bands, flags):
    """Each star's outcome (its reject reason, or the request the model gets: reason, type key,
    period, epochs) is the canonical spelling's, in rrlfeh predict and in the served model."""
    vari = _STARS["vari_rrlyrae"].assign(best_classification=list(types))
    ep = _EPOCHS.copy()
    for column, values, spellings in [("band", ep["band"], bands),
                                      ("rejected_by_variability", ep["rejected_by_variability"].map(str), flags)]:
        ep[column] = [spellings[v][i % len(spellings[v])] for i, v in enumerate(values)]
    assert predict_outcome(vari, ep) == _CANONICAL[0]
    assert served_outcome(vari, ep) == _CANONICAL[1]
