"""The serving front's own work per request: the JSON depth bound and the rest of check_request.

    python -m bench.front_checks [--repeats 5]

Times `serving.front.check_request` (the Content-Type, the size, `json_depth`, `json.loads`, the
source_id check) and `json_depth` alone on: a one-star request, a 1,000-star request (60 epochs a
star, as bench/serve.py sends), the same request grown to 64 MiB (the default --max-body-mb), and
64 MiB of the byte patterns that cost the depth count most (all quotes, all escaped quotes, all
brackets). Prints one JSON object: the median of --repeats timings in ms for each body.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np

from rrlfeh.serving import front

MAX_BODY = 64 * 2**20


def _request(n_stars: int, n_epochs: int = 60) -> bytes:
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(1700.0, 2600.0, n_epochs))
    records = [{"source_id": i + 1, "type": "RRab", "period": 0.55, "epoch_g": 1700.2,
                "time": t.round(6).tolist(), "mag": (16 + 0.3 * np.sin(t)).round(4).tolist()}
               for i in range(n_stars)]
    return json.dumps({"dataframe_records": records}).encode()


def bodies() -> dict[str, bytes]:
    one, thousand = _request(1), _request(1000)
    grown = _request(int(1000 * (MAX_BODY - 2**20) / len(thousand)))  # just under the limit
    return {"one_star": one, "1000_stars": thousand,
            f"{len(grown) // 2**20}_mib_of_stars": grown,
            "64_mib_of_quotes": b'"' * MAX_BODY, "64_mib_of_escaped_quotes": b'["' + b'\\"' * (MAX_BODY // 2 - 2) + b'"]',
            "64_mib_of_brackets": b"[" * (MAX_BODY // 2) + b"]" * (MAX_BODY // 2)}


def _median_ms(fn, body: bytes, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(body)
        times.append(time.perf_counter() - t0)
    return round(1000 * statistics.median(times), 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    out = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "repeats": args.repeats,
           "max_json_depth": front.MAX_JSON_DEPTH, "bodies": {}}
    for name, body in bodies().items():
        answer = front.check_request("application/json", body, MAX_BODY)
        out["bodies"][name] = {
            "bytes": len(body),
            "json_depth_ms": _median_ms(front.json_depth, body, args.repeats),
            "check_request_ms": _median_ms(
                lambda b: front.check_request("application/json", b, MAX_BODY), body, args.repeats),
            "answer": "pass" if answer is None else answer[0],
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
