"""``triage simulate`` (replay an image set) and ``triage imageset`` (build one)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from triage import paths
from triage.sim.build import (
    DEFAULT_LOSS,
    PHYSICAL_LOSS,
    build_real_manifest,
    build_synthetic_set,
)
from triage.sim.manifest import dump_manifest
from triage.sim.runner import TARGETS, run_simulation

imageset_app = typer.Typer(
    help="Build image-set manifests: the real scenes, or synthetic ones.", no_args_is_help=True
)


def _summary(metrics: dict) -> str:
    def line(name: str, m: dict) -> str:
        rf = m["reduction_factor"]
        rec = m["ship_recall"]
        return (
            f"  {name:<11} sent {m['sent_bytes']:>13,} B  reduction "
            f"{'-' if rf is None else f'{rf:8.2f}'}  ships {m['ships_delivered']:>4}/"
            f"{m['ships_labelled']:<4} recall {'-' if rec is None else f'{rec:.3f}'}  "
            f"first pass {m['first_pass_ships']}"
        )

    lines = [line("triage", metrics)]
    lines += [line(k, v) for k, v in metrics["baselines"].items()]
    return "\n".join(lines)


def simulate(
    manifest: Path = typer.Argument(..., help="image-set manifest (JSON)"),
    out: Path = typer.Option(..., "--out", help="output folder (created; must be empty)"),
    target: str = typer.Option(
        "host", "--target", help="firmware: host (shared library) or qemu (Cortex-M4 image)"
    ),
    rate_bps: int | None = typer.Option(
        None, "--rate-bps", help="override the manifest's downlink rate (bit/s)"
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace a non-empty --out"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
    print_json: bool = typer.Option(False, "--json", help="print metrics.json on stdout"),
) -> None:
    """Replay an image set through the firmware, the passes and the ground station."""

    if target not in TARGETS:
        raise typer.BadParameter(f"--target must be one of {', '.join(TARGETS)}")
    if quiet:
        result = run_simulation(
            manifest, out, target=target, overwrite=overwrite, rate_bps=rate_bps
        )
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=False,
        ) as bar:
            task = bar.add_task("frames", total=None)

            def progress(what: str, done: int, total: int) -> None:
                bar.update(task, description=what, completed=done, total=total)

            result = run_simulation(
                manifest,
                out,
                target=target,
                overwrite=overwrite,
                rate_bps=rate_bps,
                progress=progress,
            )
    metrics = result.metrics()
    if print_json:
        typer.echo(json.dumps(metrics, indent=1))
    else:
        typer.echo(_summary(metrics))
    typer.echo(f"report: {Path(out) / 'report.html'}")
    typer.echo(f"metrics: {Path(out) / 'metrics.json'}")


_CHANNEL_HELP = (
    "packets: bursty packet losses (Gilbert-Elliott); link-budget: bit errors from the "
    "link's budget along each pass through the ground's Reed-Solomon decoder"
)


def _loss(channel: str):
    if channel not in ("packets", "link-budget"):
        typer.echo(f"error: --channel must be packets or link-budget, not {channel!r}", err=True)
        raise typer.Exit(2)
    return PHYSICAL_LOSS if channel == "link-budget" else DEFAULT_LOSS


@imageset_app.command("real")
def imageset_real(
    out: Path = typer.Option(..., "--out", help="manifest file to write (JSON)"),
    link: str = typer.Option("uhf", "--link", help="uhf (9.6 kbit/s) or sband (1 Mbit/s)"),
    include_landsat: bool = typer.Option(
        False,
        "--include-landsat",
        help="also list the Landsat-7 scene (no NIR band: the simulator will refuse it)",
    ),
    ports: str | None = typer.Option(None, "--ports", help="comma-separated subset of ports"),
    channel: str = typer.Option("packets", "--channel", help=_CHANNEL_HELP),
) -> None:
    """The nine Sentinel-2 ports (and notes on the Landsat scene) from the data folder."""

    data = paths.require_data_dir("sen2ships").parent
    chosen = tuple(p.strip() for p in ports.split(",")) if ports else None
    manifest, notes = build_real_manifest(
        data, link=link, include_landsat=include_landsat, ports=chosen, loss=_loss(channel)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    dump_manifest(manifest, out)
    for n in notes:
        typer.echo(f"note: {n}", err=True)
    typer.echo(f"{out}: {len(manifest.frames)} frames")


@imageset_app.command("synthetic")
def imageset_synthetic(
    out: Path = typer.Option(..., "--out", help="folder for the scenes and manifest.json"),
    scenes: int = typer.Option(4, "--scenes", min=1, max=64),
    size: int = typer.Option(1024, "--size", min=64, max=4096, help="scene side in pixels"),
    ships: int = typer.Option(12, "--ships", min=0, max=500, help="ships per scene"),
    seed: int = typer.Option(7, "--seed"),
    link: str = typer.Option("uhf", "--link", help="uhf (9.6 kbit/s) or sband (1 Mbit/s)"),
    channel: str = typer.Option("packets", "--channel", help=_CHANNEL_HELP),
) -> None:
    """Synthetic scenes with exact ground truth, written as GeoTIFFs, and their manifest."""

    path = build_synthetic_set(
        out,
        n_scenes=scenes,
        rows=size,
        cols=size,
        seed=seed,
        link=link,
        ships_per_scene=ships,
        loss=_loss(channel),
    )
    typer.echo(f"{path}")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
    app.add_typer(imageset_app, name="imageset")
