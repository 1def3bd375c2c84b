"""``triage model``: build the dataset, train, evaluate and export the on-board classifier
(the shipped cell network; the tile recipe stays reachable as the baseline, ``--recipe
tiles``).

A thin layer over :mod:`triage_models` (which imports TensorFlow and rasterio only
inside the functions that need them, so that ``triage --help`` stays fast); the C
export is the ``triage`` layer's (:mod:`triage.generate`).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from triage_models import cellship, dataset, lpo, paths, shipping
from triage_models.celltrain import CELL_SMOKE_CONFIG
from triage_models.train import SMOKE_CONFIG, TrainConfig

from triage import generate
from triage.contract.errors import ContractError
from triage.contract.paths import data_dir as default_data_dir
from triage.contract.policy import load_policy
from triage.engine import package
from triage.engine.stream import compile_stream
from triage.errors import TriageError

model_app = typer.Typer(
    help="The on-board cell classifier: dataset, training, evaluation, export.",
    no_args_is_help=True,
)

DATA_DIR_OPT = typer.Option(
    None, help="Imagery folder (default: $TRIAGE_DATA_DIR or ../shared/data)."
)


def _data_dir(data_dir: Path | None) -> Path:

    return Path(data_dir) if data_dir else default_data_dir()


def _log(msg: str) -> None:
    typer.echo(msg, err=True)


@model_app.command("build-dataset")
def build_dataset(
    data_dir: Path | None = DATA_DIR_OPT,
    rebuild: bool = typer.Option(False, help="Rebuild even when the cache is current."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Label the tiles of the real imagery and cache them (rebuilt when sources or rules change)."""

    ds, built = dataset.load_or_build(_data_dir(data_dir), rebuild=rebuild)
    summary = dataset.summary(ds)
    summary["cache"] = str(dataset.dataset_path(_data_dir(data_dir)))
    summary["built"] = built
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    typer.echo(f"{'built' if built else 'cached'}: {summary['cache']}")
    for name, counts in summary["frames"].items():
        typer.echo(f"  {name:16s} " + " ".join(f"{k}={v}" for k, v in counts.items()))


RECIPE_OPT = typer.Option(
    "cells",
    help="cells: the shipped cell network (one pass per pixel, one decision per cell of "
    "models/tile_spec.json; writes models/shipped); tiles: the tile recipe, kept as the "
    "baseline (writes under the model cache, never models/shipped).",
)


def _recipe(recipe: str) -> str:
    if recipe not in ("cells", "tiles"):
        raise typer.BadParameter(f"unknown recipe {recipe!r} (cells or tiles)")
    return recipe


@model_app.command("train")
def train_cmd(
    data_dir: Path | None = DATA_DIR_OPT,
    seed: int = typer.Option(1, help="Seed of the sampling, augmentation and initialisation."),
    epochs: int | None = typer.Option(None, help="Override the number of epochs."),
    out_dir: Path | None = typer.Option(
        None,
        help="Where to write (default: models/shipped for cells, the cache's tiles/ for tiles; "
        "--smoke: the cache's smoke/).",
    ),
    smoke: bool = typer.Option(False, help="A seconds-long training on a handful of windows."),
    recipe: str = RECIPE_OPT,
) -> None:
    """Train the shipped cell network (triage_models.cellship.RECIPE) on all ten ports, the
    cloud images and the coastal chips; write the int8 classifier.tflite and training.json,
    then the streaming C (when the folder holds a policy.json)."""

    data = _data_dir(data_dir)
    ds, _ = dataset.load_or_build(data)
    if smoke and out_dir is None:
        out_dir = paths.cache_dir() / "smoke"
    if _recipe(recipe) == "tiles":
        cfg = SMOKE_CONFIG if smoke else TrainConfig()
        cfg = cfg.model_copy(update={"seed": seed} | ({"epochs": epochs} if epochs else {}))
        info = shipping.train_and_write(ds, cfg, out_dir=out_dir, log=_log, save_float=not smoke)
        typer.echo(json.dumps(info, indent=2))
        return
    cfg = CELL_SMOKE_CONFIG if smoke else cellship.RECIPE
    cfg = cfg.model_copy(update={"seed": seed} | ({"epochs": epochs} if epochs else {}))
    # the firmware runs the model with the streaming executor: its exporter must take it
    # (compile_stream raises a ModelError naming the layer it refuses) before it is written
    info = cellship.train_and_write(
        ds, data, cfg, out_dir=out_dir, log=_log, save_float=not smoke, check=compile_stream
    )
    folder = Path(out_dir or paths.shipped_dir())
    if (
        folder.resolve() == paths.shipped_dir().resolve()
        or (folder / cellship.CELL_POLICY).exists()
    ):
        _export(folder)
    typer.echo(json.dumps(info, indent=2))


@model_app.command("evaluate")
def evaluate_cmd(
    data_dir: Path | None = DATA_DIR_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print all metrics as one JSON object."),
    tflite: Path | None = typer.Option(
        None, help="--recipe tiles only: the tile model to measure (default: the baseline's)."
    ),
    write: bool = typer.Option(
        False,
        help="Write evaluation.json and the chosen policy.json (cells: into models/shipped, "
        "then the C export; tiles: into the baseline's folder).",
    ),
    no_cache: bool = typer.Option(False, help="Retrain the folds even when cached."),
    recipe: str = RECIPE_OPT,
) -> None:
    """Ten-port leave-ports-out evaluation of the shipped cell network's recipe (five folds,
    each trained without its ports, cloud images and coastal chip; int8 outputs under TFLM),
    with the policy of each fold chosen on the other folds."""

    data = _data_dir(data_dir)
    ds, _ = dataset.load_or_build(data)
    if _recipe(recipe) == "tiles":
        result = shipping.evaluate_and_write(
            ds, tflite_path=tflite, write=write, use_cache=not no_cache, log=_log
        )
        if as_json:
            typer.echo(json.dumps(result, indent=2))
            return
        for k in (
            "ship_recall",
            "ship_kept",
            "discard_ship_rate",
            "discard_fraction",
            "int8_float_agreement",
            "model_tflite_bytes",
            "tflm_arena_bytes",
            "macs_per_tile",
        ):
            typer.echo(f"{k:22s} {result[k]}   (baseline: {result['baseline'].get(k, '-')})")
        return
    if tflite is not None:
        raise typer.BadParameter("--tflite applies to --recipe tiles only")
    result = cellship.evaluate_and_write(ds, data, write=write, use_cache=not no_cache, log=_log)
    if write:
        _export(paths.shipped_dir())
    typer.echo(json.dumps(result, indent=2, default=float) if as_json else lpo.headline(result))


def _export(out_dir: Path, tflite: Path | None = None) -> list[Path]:
    """triage_config.h and the engine's C for the model of ``out_dir``: all three rendered
    before any is written (a model that does not export leaves them as they were)."""

    texts = generate.model_texts(out_dir, tflite)
    generate.write(texts)
    return list(texts)


@model_app.command("export")
def export(
    out_dir: Path | None = typer.Option(
        None, help="Folder to write into (default: models/shipped)."
    ),
    tflite: Path | None = typer.Option(
        None, help="The int8 model to export (default: <out_dir>/classifier.tflite)."
    ),
) -> None:
    """Write triage_config.h and the engine's C for the model: all three files or none (a
    missing or unreadable model, or one the engine cannot run, is an error)."""

    for path in _export(Path(out_dir or paths.shipped_dir()), tflite):
        typer.echo(str(path))


@model_app.command("package")
def package_cmd(
    tflite: Path = typer.Argument(
        ..., help="A streaming int8 .tflite (a cell network).", dir_okay=False
    ),
    model_id: int = typer.Option(
        ...,
        "--model-id",
        min=1,
        max=0xFFFFFFFF,
        help="The model's id in telemetry (0 is the tile model).",
    ),
    out: Path = typer.Option(..., "--out", help="The package file to write.", dir_okay=False),
    policy: Path | None = typer.Option(
        None, help="Decision policy JSON the model was tuned with (default: the shipped one)."
    ),
    created_s: int | None = typer.Option(
        None, "--created-s", help="Creation time, seconds since the epoch (default: now)."
    ),
    factory_c: Path | None = typer.Option(
        None,
        "--factory-c",
        file_okay=False,
        help="Also write factory_package.c/.h here: the package as an image's factory default.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the package's description."),
) -> None:
    """Package a streaming model for the uplink: plan, tile spec and policy, golden vectors
    from TFLM, CRC-32 (triage/WIRE_FORMAT.md, "Model package")."""
    try:
        data = tflite.read_bytes()
    except OSError as exc:
        typer.echo(f"error: cannot read {tflite}: {exc.strerror}", err=True)
        raise typer.Exit(1) from exc
    try:
        pkg = package.package_model(
            data, model_id=model_id, created_s=created_s,
            policy=load_policy(policy) if policy else None, policy_path=policy,
        )  # fmt: skip
    except (TriageError, ContractError) as exc:
        typer.echo(f"error: {tflite}: {exc}", err=True)
        raise typer.Exit(1) from exc
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(pkg.data)
    tmp.replace(out)
    desc = dict(pkg.describe(), package=str(out))
    if factory_c is not None:
        desc["factory_c"] = [str(p) for p in package.write_factory_c(pkg, factory_c)]
    if as_json:
        typer.echo(json.dumps(desc, indent=2))
        return
    typer.echo(
        f"model {desc['model_id']}: {desc['package_bytes']} bytes, {desc['layers']} layers, "
        f"{desc['golden_vectors']} golden vectors -> {out}"
    )
    typer.echo(f"package sha256 {desc['package_sha256']}")


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")
