"""The pipeline at a glance: a few headline numbers per stage, read from the stages' own reports.

`rrlfeh summary` prints them (at most 30 lines: what `make run` ends with) and writes them to
metrics/summary.json, the one metrics file dvc.yaml declares, so `dvc metrics show` and
`dvc exp show` compare experiments on these numbers. The detail stays in the stage reports
(metrics/extract.json, metrics/clean.json, metrics/train_{type}.json, models/registered.json).
"""

from __future__ import annotations

import json
from pathlib import Path

from rrlfeh.errors import DataError

TYPES = {"rrab": "RRab", "rrc": "RRc"}


def _read(path: Path) -> dict | None:
    path = Path(path)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc


def _r(x, nd: int = 4):
    return None if x is None else round(float(x), nd)


def headline(clean: dict | None, train: dict[str, dict | None], registered: dict | None) -> dict:
    """The numbers people compare across experiments (metrics/summary.json; short names, so that
    `dvc exp show` fits 200 columns): stars kept; per type the pooled out-of-fold R2 and wRMSE, the
    test wRMSE, and each wRMSE as a ratio to the simulator's noise floor on the same stars."""
    out: dict = {}
    if clean:
        out["stars"] = {"kept": clean["stars"]["kept"]}
    for t, m in train.items():
        if not m or "oof" not in m:  # a fine-tuning run's type without labels: the base's model
            continue
        ratio = m.get("ratio_to_oracle") or {}
        out[t] = {"r2": _r(m["oof"]["r2"]), "wrmse": _r(m["oof"]["wrmse"]), "ratio": _r(ratio.get("oof_wrmse"), 3),
                  "test_wrmse": _r(m["test"]["wrmse"]), "test_ratio": _r(ratio.get("test_wrmse"), 3)}
    return out


def _table(clean: dict | None, train: dict[str, dict | None]) -> dict:
    """What the text shows, from the detail reports."""
    out: dict = {}
    if clean:
        by_type = clean.get("by_type", {})
        out["stars"] = {"input": clean["stars"]["input"], "kept": clean["stars"]["kept"],
                        **{name: by_type.get(name, {}).get("kept") for name in TYPES.values()}}
    for t, m in train.items():
        if not m or "oof" not in m:
            continue
        oracle = m.get("oracle") or {}
        ratio = m.get("ratio_to_oracle") or {}  # none where the labels are the oracle's own values
        out[t] = {
            "oof_r2": m["oof"]["r2"], "oof_wrmse": m["oof"]["wrmse"],
            "oof_oracle_wrmse": (oracle.get("oof") or {}).get("wrmse"), "oof_ratio": ratio.get("oof_wrmse"),
            "test_r2": m["test"]["r2"], "test_wrmse": m["test"]["wrmse"],
            "test_oracle_wrmse": (oracle.get("test") or {}).get("wrmse"), "test_ratio": ratio.get("test_wrmse"),
        }
    return out


def _fmt(x, nd: int = 3) -> str:
    return "    -" if x is None else f"{x:.{nd}f}"


def render(numbers: dict, registered: dict | None) -> list[str]:
    """At most 30 lines of text."""
    lines = []
    s = numbers.get("stars")
    if s:
        per_type = ", ".join(f"{name} {s[name]}" for name in TYPES.values() if s.get(name) is not None)
        lines.append(f"stars: {s['kept']} of {s['input']} kept by the cuts ({per_type})")
    typed = [t for t in TYPES if t in numbers]
    if typed:
        lines += ["", f"{'':16s}R2     wRMSE  oracle wRMSE  ratio"]
        for t in typed:
            m = numbers[t]
            for split, label in (("oof", "CV (oof)"), ("test", "test")):
                model, oracle, ratio = m[f"{split}_wrmse"], m[f"{split}_oracle_wrmse"], m[f"{split}_ratio"]
                lines.append(f"{TYPES[t] if split == 'oof' else '':5s} {label:9s} {_fmt(m[f'{split}_r2'])}  "
                             f"{_fmt(model)}  {_fmt(oracle):>12s}  {_fmt(ratio, 2):>5s}")
        lines.append("(wRMSE in dex; oracle: the simulator's noise floor on the same stars; oof: pooled out-of-fold)")
        if any(numbers[t]["oof_oracle_wrmse"] is not None and numbers[t]["oof_ratio"] is None for t in typed):
            lines.append("(no ratio: the labels are the oracle's own values, label_mode measured)")
    if registered:
        lines += ["", f"registered {registered['model_name']} version {registered['version']}: "
                      f"{registered['decision']}; champion is version {registered.get('champion')}"]
        reason = str(registered.get("reason", ""))
        lines.append(f"  gate: {reason[:160]}")
    lines += ["", "detail: metrics/{extract,clean,train_rrab,train_rrc}.json, models/registered.json, "
                  "`dvc plots show`, `make ui`"]
    return lines[:30]


def run_summary(metrics_dir: Path, registered_path: Path, out: Path | None = None) -> list[str]:
    """Read the stage reports, write the headline JSON to `out` (if given), return the text lines."""
    metrics_dir = Path(metrics_dir)
    clean = _read(metrics_dir / "clean.json")
    train = {t: _read(metrics_dir / f"train_{t}.json") for t in TYPES}
    registered = _read(registered_path)
    if clean is None and not any(train.values()) and registered is None:
        raise DataError(f"no stage reports in {metrics_dir} nor {registered_path}: run `dvc repro` first")
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(headline(clean, train, registered), indent=1) + "\n")
    return render(_table(clean, train), registered)
