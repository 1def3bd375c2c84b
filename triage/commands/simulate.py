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
from triage.sim.classifiers import AUTO, load_classifiers
from triage.sim.compare import write_comparison
from triage.sim.errors import OutputError
from triage.sim.manifest import CloudSpec, MaritimeSpec, Scenario, dump_manifest, load_manifest
from triage.sim.model_update import build_manifest
from triage.sim.runner import TARGETS, run_simulation
from triage.sim.scenarios import MARITIME_PRODUCTS, realize, scenario_manifest

EXIT_TARGETS_MISSED = 3

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
    c = metrics["classifiers"]
    lines.append(
        f"  figures: {c['sample']} ({c['frames_out_of_sample']} frames out of sample, "
        f"{c['frames_in_sample']} in-sample, {c['frames_unknown']} unknown)"
    )
    missed = [k for k, t in metrics["targets"].items() if not t["met"]]
    lines.append("  targets: " + ("all met" if not missed else "MISSED " + ", ".join(missed)))
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
    model: str = typer.Option(
        AUTO,
        "--model",
        help="classifier per frame: auto (one that never saw the frame's imagery where "
        "models/classifiers.json has one; figures labelled in- or out-of-sample), or a "
        "classifier name for every frame (shipped: today's compiled-in model)",
    ),
    classifiers: Path | None = typer.Option(
        None, "--classifiers", help="classifier registry (default: models/classifiers.json)"
    ),
    keep_streams: Path | None = typer.Option(
        None,
        "--keep-streams",
        help="also write the pass files as the ground received them, the catalogue, the TLE "
        "and the stations into this folder (for the groundstation commands); with several "
        "satellites, one folder per satellite (sat-1, sat-2, ...)",
    ),
    check_targets: bool = typer.Option(
        False,
        "--check-targets",
        help=f"exit with code {EXIT_TARGETS_MISSED} when a target is missed (after writing the "
        "report)",
    ),
) -> None:
    """Replay an image set through the firmware, the passes and the ground station."""

    if target not in TARGETS:
        raise typer.BadParameter(f"--target must be one of {', '.join(TARGETS)}")
    opts = dict(
        target=target,
        overwrite=overwrite,
        rate_bps=rate_bps,
        model=model,
        classifiers=classifiers,
        keep_streams=keep_streams,
    )
    if quiet:
        result = run_simulation(manifest, out, **opts)
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

            result = run_simulation(manifest, out, progress=progress, **opts)
    metrics = result.metrics()
    if print_json:
        typer.echo(json.dumps(metrics, indent=1))
    else:
        typer.echo(_summary(metrics))
    typer.echo(f"report: {Path(out) / 'report.html'}")
    typer.echo(f"metrics: {Path(out) / 'metrics.json'}")
    if keep_streams is not None:
        typer.echo(f"streams: {keep_streams} (README.md there lists groundstation commands)")
    missed = result.targets_missed()
    if check_targets and missed:
        typer.echo(f"triage: targets missed: {', '.join(missed)}", err=True)
        raise typer.Exit(EXIT_TARGETS_MISSED)


def compare(
    runs: list[Path] = typer.Argument(..., help="two or more run folders (triage simulate --out)"),
    out: Path = typer.Option(..., "--out", help="HTML file to write"),
) -> None:
    """Runs side by side (e.g. UHF and S-band) in one self-contained HTML page."""

    path = write_comparison(runs, out)
    typer.echo(f"comparison: {path}")


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
    """The Sentinel-2 ports (and notes on the Landsat scene) from the data folder, as they are
    (see `imageset ports` for cloud laid over them)."""

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


def _clouds(mean: float | None, concentration: float, seed: int) -> CloudSpec | None:
    return None if mean is None else CloudSpec(mean=mean, concentration=concentration, seed=seed)


def _realize_to(manifest, out: Path, overwrite: bool) -> Path:
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise OutputError(f"output folder {out} exists and is not empty (or --overwrite)")
    return realize(manifest, out)


@imageset_app.command("maritime")
def imageset_maritime(
    out: Path = typer.Option(..., "--out", help="folder for the frames, truth and manifest.json"),
    frames: int = typer.Option(8, "--frames", min=1, max=500),
    frame_px: int = typer.Option(1024, "--frame-px", min=128, max=1024, help="frame side, px"),
    density: float = typer.Option(
        1.0, "--vessels-per-100km2", min=0.0, max=100.0, help="mean vessel density"
    ),
    coast_share: float = typer.Option(0.3, "--coast-share", min=0.0, max=1.0),
    cloud_mean: float | None = typer.Option(
        0.67, "--cloud-mean", min=0.0, max=1.0, help="mean cloud fraction (Beta draws per frame)"
    ),
    no_clouds: bool = typer.Option(False, "--no-clouds", help="lay no cloud"),
    cloud_concentration: float = typer.Option(1.0, "--cloud-concentration", min=0.001),
    seed: int = typer.Option(0, "--seed", min=0),
    link: str = typer.Option("uhf", "--link", help="uhf (9.6 kbit/s) or sband (1 Mbit/s)"),
    products: str = typer.Option(
        "maritime",
        "--products",
        help="maritime: ship crops, quicklook, class map and summary; uncropped sea and cloud "
        "discarded (onboard.policy) | all: the classifier's policy (low-resolution products "
        "of uncertain cells too)",
    ),
    overwrite: bool = typer.Option(False, "--overwrite"),
) -> None:
    """Open sea and coast from real pixels with real vessels pasted in (exact truth), cloud
    laid over; each frame's water and vessels unseen by the classifier chosen for it."""
    if products not in ("maritime", "all"):
        raise typer.BadParameter(
            f"unknown product mix {products!r} (known: maritime, all)", param_hint="--products"
        )

    sc = Scenario(
        kind="maritime",
        maritime=MaritimeSpec(
            frames=frames,
            frame_px=frame_px,
            vessels_per_100km2=density,
            coast_share=coast_share,
            seed=seed,
        ),
        clouds=None if no_clouds else _clouds(cloud_mean, cloud_concentration, seed),
    )
    policy = MARITIME_PRODUCTS if products == "maritime" else None
    path = _realize_to(scenario_manifest(sc, link=link, policy=policy), out, overwrite)
    typer.echo(f"{path}: {len(load_manifest(path).frames)} frames")


@imageset_app.command("ports")
def imageset_ports(
    out: Path = typer.Option(..., "--out", help="folder for the frames, truth and manifest.json"),
    ports: str | None = typer.Option(None, "--ports", help="comma-separated subset of ports"),
    cloud_mean: float | None = typer.Option(
        None, "--cloud-mean", min=0.0, max=1.0, help="lay cloud of this mean fraction"
    ),
    cloud_concentration: float = typer.Option(1.0, "--cloud-concentration", min=0.001),
    seed: int = typer.Option(0, "--seed", min=0),
    link: str = typer.Option("uhf", "--link", help="uhf (9.6 kbit/s) or sband (1 Mbit/s)"),
    overwrite: bool = typer.Option(False, "--overwrite"),
) -> None:
    """The real port scenes, with real cloud laid over them (--cloud-mean)."""

    chosen = [p.strip() for p in ports.split(",")] if ports else None
    sc = Scenario(kind="ports", ports=chosen, clouds=_clouds(cloud_mean, cloud_concentration, seed))
    path = _realize_to(scenario_manifest(sc, link=link), out, overwrite)
    typer.echo(f"{path}: {len(load_manifest(path).frames)} frames")


@imageset_app.command("build")
def imageset_build(
    manifest: Path = typer.Argument(..., help="a manifest with a scenario and no frames"),
    out: Path = typer.Option(..., "--out", help="folder for the frames, truth and manifest.json"),
    overwrite: bool = typer.Option(False, "--overwrite"),
) -> None:
    """Build a scenario manifest's frames (what triage simulate does on the fly)."""

    m = load_manifest(manifest)
    if m.scenario is None:
        raise OutputError(f"{manifest} has no scenario to build")
    path = _realize_to(m.model_copy(update={"frames": []}), out, overwrite)
    typer.echo(f"{path}: {len(load_manifest(path).frames)} frames")


@imageset_app.command("model-update")
def imageset_model_update(
    out: Path = typer.Option(..., "--out", help="folder for manifest.json, the package, a key"),
    fold: int = typer.Option(4, "--fold", min=1, max=5, help="leave-ports-out fold (1..5)"),
    launch: str = typer.Option(
        "v0fold4", "--launch", help="registry classifier flown at launch (models/classifiers.json)"
    ),
    uplinked: str = typer.Option(
        "fold4", "--uplinked", help="registry classifier uplinked mid-mission"
    ),
    revisit_days: float = typer.Option(
        1.0, "--revisit-days", min=0.1, max=30.0, help="second visit from this after the first"
    ),
    uplink_rate: float = typer.Option(9600.0, "--uplink-rate-bps", min=1.0),
    half_duplex: bool = typer.Option(
        False, "--half-duplex", help="the upload's seconds come out of its pass's downlink"
    ),
    link: str = typer.Option("uhf", "--link", help="uhf (9.6 kbit/s) or sband (1 Mbit/s)"),
) -> None:
    """A better model uplinked mid-mission: the fold's held-out ports imaged twice, the
    uplinked classifier's package (triage model package) sent between the visits, signed with
    a new TEST key (triage/sim/model_update.py)."""
    data = paths.require_data_dir("sen2ships").parent
    cset = load_classifiers()
    for name in (launch, uplinked):
        cset.get(name)  # a clear error for an unknown name
    path = build_manifest(
        out,
        fold=fold,
        launch=launch,
        uplinked_tflite=Path(cset.get(uplinked).tflite),
        data_dir=data,
        link=link,
        revisit_days=revisit_days,
        uplink_rate_bps=uplink_rate,
        half_duplex=half_duplex,
    )
    m = load_manifest(path)
    mu = m.onboard.model_update
    typer.echo(f"{path}: {len(m.frames)} frames, uplink in pass {mu.pass_index}")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
    app.command("compare")(compare)
    app.add_typer(imageset_app, name="imageset")
