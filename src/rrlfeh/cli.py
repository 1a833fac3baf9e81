"""`rrlfeh <stage>`: one thin command per pipeline stage; the work lives in the stage modules.

Paths come from the command line (dvc.yaml passes them), params from params.yaml via
rrlfeh.config. Errors caused by data, params, the MLflow store or the disk are printed as one
line (rrlfeh.errors.describe), exit code 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from rrlfeh.errors import describe
from rrlfeh.redact import install_log_redaction, redact
from rrlfeh.runtime import configure_environment, configure_logging, use_keras_backend

# Each command imports its stage's modules inside its body, on purpose: what `rrlfeh <command>`
# imports is its dvc.yaml code deps (tests/structure/test_dvc_deps.py), so an import up here would
# make every stage rerun on that module's edits; and the training and serving commands pick the
# Keras backend (use_keras_backend) before anything imports Keras.

app = typer.Typer(
    add_completion=False, no_args_is_help=True,
    help="RR Lyrae [Fe/H] from Gaia G light curves: one command per pipeline stage.",
)
PARAMS = typer.Option(Path("params.yaml"), "--params", help="params file")
TYPE = typer.Argument(..., help="rrab or rrc")


@app.callback()
def _options(
    log_level: str = typer.Option("INFO", "--log-level", envvar="RRLFEH_LOG_LEVEL",
                                  help="DEBUG, INFO, WARNING or ERROR: the package's log lines on stderr"),
) -> None:
    try:
        configure_logging(log_level)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--log-level") from exc


def _params(path: Path, stage: str | None = None, star_type: str | None = None):
    """params.yaml, typed; for a pipeline stage, restricted to the keys it declares
    (rrlfeh.config.stages): reading another raises a ConfigError naming it."""
    from rrlfeh.config import load_params  # here, not above: `summary` reads no params (its deps)

    params = load_params(path)
    if stage is None:
        return params
    from rrlfeh.config.stages import restrict

    return restrict(params, stage, star_type)


def _type(star_type: str) -> str:
    t = star_type.lower()
    if t not in ("rrab", "rrc"):
        raise typer.BadParameter(f"type must be rrab or rrc, got {star_type!r}")
    return t


@app.command()
def extract(
    out: Path = typer.Option(Path("data/raw"), help="folder for the three raw tables"),
    report: Path = typer.Option(Path("metrics/extract.json"), help="extract report (counts)"),
    params: Path = PARAMS,
) -> None:
    """Write data/raw/{vari_rrlyrae,epoch_photometry,labels}.parquet from extract.source."""
    from rrlfeh.sources.extract import run_extract

    run_extract(_params(params, "extract"), out, report)


@app.command()
def validate(
    raw: Path = typer.Option(Path("data/raw")),
    out: Path = typer.Option(Path("reports/validation"), help="results JSON and data docs"),
    params: Path = PARAMS,
) -> None:
    """Great Expectations suites on the raw tables; fails the pipeline on bad data."""
    from rrlfeh.quality.validate import run_validate

    summary = run_validate(_params(params, "validate").validate, raw, out)
    n = sum(t["evaluated"] for t in summary["tables"].values())
    typer.echo(f"validate: {n} expectations passed on {', '.join(summary['tables'])} (report {out})")


@app.command()
def clean(
    raw: Path = typer.Option(Path("data/raw")),
    out: Path = typer.Option(Path("data/clean")),
    metrics: Path = typer.Option(Path("metrics/clean.json")),
    plots: Path = typer.Option(Path("plots/clean")),
    report: Path = typer.Option(Path("reports/clean"), help="clean-table validation JSON and data docs"),
    params: Path = PARAMS,
) -> None:
    """The paper's selection cuts; every dropped star keeps its reason."""
    from rrlfeh.quality.clean import run_clean

    p = _params(params, "clean")
    m = run_clean(p.clean, p.validate, raw, out, metrics, plots, report_dir=report)
    typer.echo(f"clean: kept {m['stars']['kept']} of {m['stars']['input']} stars "
               f"({m['stars']['rejected']} rejected, reasons in {out / 'rejected.parquet'})")


@app.command()
def preprocess(
    star_type: str = TYPE,
    clean_dir: Path = typer.Option(Path("data/clean"), "--clean"),
    out: Path = typer.Option(Path("data/processed")),
    plots: Path = typer.Option(Path("plots/preprocess")),
    params: Path = PARAMS,
) -> None:
    """Fold, smooth, resample, standardize and weight the clean light curves of one type."""
    from rrlfeh.features.preprocess import run_preprocess

    t = _type(star_type)
    run_preprocess(_params(params, "preprocess", t).preprocess, t, clean_dir, out, plots)


@app.command()
def tune(
    star_type: str = TYPE,
    data: Optional[Path] = typer.Option(None, help="default data/processed/<type>.npz"),
    out: Optional[Path] = typer.Option(None, help="default models/tune/<type>"),
    params: Path = PARAMS,
) -> None:
    """keras-tuner Hyperband search, one MLflow child run per trial."""
    p = _params(params, "tune")
    use_keras_backend(p.fit.backend)
    from rrlfeh.model.tune import run_tune

    t = _type(star_type)
    run_tune(
        p, t,
        data or Path(f"data/processed/{t}.npz"),
        out or Path(f"models/tune/{t}"),
    )


@app.command()
def train(
    star_type: str = TYPE,
    data: Optional[Path] = typer.Option(None, help="default data/processed/<type>.npz"),
    hparams: Optional[Path] = typer.Option(None, help="default models/tune/<type>/best_hparams.json"),
    out: Optional[Path] = typer.Option(None, help="default models/<type>"),
    metrics: Optional[Path] = typer.Option(None, help="default metrics/train_<type>.json"),
    plots: Optional[Path] = typer.Option(None, help="default plots/train/<type>"),
    truth: Path = typer.Option(
        Path("data/raw/truth.parquet"), help="simulator's truth (oracle metrics); empty for real data"),
    params: Path = PARAMS,
) -> None:
    """Repeated stratified K-fold CV of the GRU, one MLflow child run per fold."""
    t = _type(star_type)
    p = _params(params, "train", t)
    use_keras_backend(p.fit.backend)
    from rrlfeh.model.train import run_train

    summary = run_train(
        p, t,
        data or Path(f"data/processed/{t}.npz"),
        hparams or Path(f"models/tune/{t}/best_hparams.json"),
        out or Path(f"models/{t}"),
        metrics or Path(f"metrics/train_{t}.json"),
        plots or Path(f"plots/train/{t}"),
        truth,
    )
    kept = (summary.get("finetune") or {}).get("kept_base")
    ratios = summary.get("ratio_to_oracle", {})
    if kept:
        typer.echo(f"train {t}: {kept}")
    elif ratios:
        typer.echo(f"train {t}: model/oracle wRMSE out-of-fold {ratios.get('oof_wrmse', float('nan')):.2f}, "
                   f"test {ratios.get('test_wrmse', float('nan')):.2f}")


@app.command()
def register(
    models: Path = typer.Option(Path("models")),
    processed: Path = typer.Option(Path("data/processed")),
    clean_dir: Path = typer.Option(Path("data/clean"), "--clean"),
    out: Path = typer.Option(Path("models/registered.json")),
    export: Optional[Path] = typer.Option(None, "--export", help="also write the champion's model folder here"),
    params: Path = PARAMS,
) -> None:
    """Log the end-to-end model, register it as challenger, promote it through the gate."""
    use_keras_backend("tensorflow")  # the served model's backend
    from rrlfeh.serving.registry import run_register

    result = run_register(_params(params, "register"), models, processed, clean_dir, out)
    typer.echo(f"{result['model_name']} version {result['version']}: {result['decision']} ({result['reason']})")
    if export is not None:  # the champion after the gate: what a machine without the server predicts with
        from rrlfeh.serving.export import export_version

        export_version(result["model_name"], result["champion"], export)
        typer.echo(f"{result['model_name']} version {result['champion']} (champion) exported to {export}")


@app.command()
def promote(
    version: str = typer.Argument(..., help="registered version to make champion"),
    reason: str = typer.Option(..., "--reason", help="why (recorded on the version)"),
    params: Path = PARAMS,
) -> None:
    """Move the champion alias to VERSION by hand, recording the reason."""
    from rrlfeh.serving.registry import promote as do_promote

    result = do_promote(_params(params).register, version, reason)
    typer.echo(f"{result['model_name']}@champion -> version {result['champion']}")


@app.command()
def rollback(
    reason: str = typer.Option(..., "--reason", help="why (recorded on the version)"),
    params: Path = PARAMS,
) -> None:
    """Move the champion alias back to the previous champion, recording the reason."""
    from rrlfeh.serving.registry import rollback as do_rollback

    result = do_rollback(_params(params).register, reason)
    typer.echo(f"{result['model_name']}@champion: version {result['rolled_back_from']} -> {result['champion']}")


@app.command()
def predict(
    inputs: list[Path] = typer.Option(..., "--input", help="folder(s) or files in Gaia layouts, or data/raw, data/clean"),
    output: Path = typer.Option(..., "--output", help="catalogue .parquet, .ecsv or .fits (rejects beside it)"),
    model: str = typer.Option("models:/rrl-feh@champion", "--model", help="models:/name@alias, models:/name/version or a model folder"),
    engine: str = typer.Option("local", "--engine", help="local or spark"),
    spark_master: Optional[str] = typer.Option(None, "--spark-master", help="default predict.spark_master"),
    plots: Optional[Path] = typer.Option(None, "--plots", help="folder for the sky map and the [Fe/H] comparison"),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    settings: list[str] = typer.Option(
        [], "--set", help="KEY=VALUE: override one of the model's own settings (e.g. error_scale=1); "
                          "recorded in the catalogue's provenance"),
    params: Path = PARAMS,
) -> None:
    """[Fe/H] for every star of a catalogue with a registered model; prints counts that reconcile.

    The model computes with the settings it was registered with (min_epochs, error terms, sanity
    ranges); params.yaml's predict section gives only chunk_stars, n_jobs and spark_master here."""
    import dataclasses
    import json

    use_keras_backend("tensorflow")  # the served model's backend
    from rrlfeh.serving.model_files import parse_overrides
    from rrlfeh.serving.predict import run_predict

    if engine not in ("local", "spark"):
        raise typer.BadParameter("engine must be local or spark")
    cfg = _params(params).predict
    if spark_master:
        cfg = dataclasses.replace(cfg, spark_master=spark_master)
    counts = run_predict(cfg, model, inputs, output, engine, plots=plots, progress=progress,
                         overrides=parse_overrides(settings))
    typer.echo(json.dumps(counts, indent=2))


@app.command()
def serve(
    model: str = typer.Option("models:/rrl-feh@champion", "-m", "--model", help="model URI or folder"),
    host: str = typer.Option("127.0.0.1", "-h", "--host"),
    port: int = typer.Option(5001, "-p", "--port"),
    max_body_mb: int = typer.Option(64, help="larger requests get a 413"),
    timeout: int = typer.Option(60, "-t", "--timeout", help="seconds per request"),
) -> None:
    """MLflow's scoring server for MODEL behind a strict front (415/413/400, JSON null for NaN)."""
    use_keras_backend("tensorflow")  # the served model's backend
    from rrlfeh.serving.front import serve as run_server

    run_server(model, host, port, max_body_mb, timeout)


@app.command()
def summary(
    metrics: Path = typer.Option(Path("metrics"), help="folder of the stage reports (clean.json, train_<type>.json)"),
    registered: Path = typer.Option(Path("models/registered.json"), help="register's decision"),
    out: Optional[Path] = typer.Option(None, help="write the headline numbers here (metrics/summary.json)"),
    quiet: bool = typer.Option(False, "--quiet", help="only write --out"),
) -> None:
    """The pipeline at a glance: stars kept, CV and test R2/wRMSE beside the oracle, the gate's decision."""
    from rrlfeh.summary import run_summary

    lines = run_summary(metrics, registered, out)
    if not quiet:
        typer.echo("\n".join(lines))


def main() -> None:
    configure_environment(keras_backend=None)  # training stages take theirs from params.fit.backend
    install_log_redaction()
    try:
        app()
    except Exception as exc:  # the one boundary: known failures become one line, bugs keep their traceback
        line = describe(exc)
        if line is None:
            raise
        typer.secho(f"rrlfeh: error: {redact(line)}", fg=typer.colors.RED, err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
