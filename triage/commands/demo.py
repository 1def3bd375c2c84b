"""``triage demo``: the end-to-end demo (host simulator over an image set).

With the real imagery present it builds the image set of every Sentinel-2 port and
simulates it twice, with a 9.6 kbit/s UHF link and with a 1 Mbit/s S-band link (same orbit,
stations, passes and loss model) and writes the two side by side (``compare.html``);
without it, it generates a synthetic image set (exact ground truth) and simulates that.
It prints where the reports are.
"""

from __future__ import annotations

from pathlib import Path

import typer

from triage import paths
from triage.commands.simulate import simulate
from triage.sim.build import build_real_manifest, build_synthetic_set
from triage.sim.classifiers import AUTO
from triage.sim.compare import write_comparison
from triage.sim.manifest import dump_manifest


def demo(
    out: Path | None = typer.Option(
        None, "--out", help="demo folder (default: <build dir>/demo); replaced on each run"
    ),
    synthetic: bool = typer.Option(
        False, "--synthetic", help="use the synthetic image set even when the imagery is present"
    ),
    target: str = typer.Option("host", "--target", help="firmware: host or qemu"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
) -> None:
    """Run the end-to-end demo (the host simulator over the real or synthetic image set)."""

    out = out or paths.build_dir() / "demo"
    out.mkdir(parents=True, exist_ok=True)
    data = paths.data_dir()
    runs: list[tuple[str, Path, int | None]] = []
    if not synthetic and (data / "sen2ships").is_dir():
        manifest, notes = build_real_manifest(data, link="uhf")
        n_ports = len({f.scene for f in manifest.frames if f.scene != "landsat7"})
        typer.echo(f"real imagery found in {data}: {n_ports} Sentinel-2 ports")
        for n in notes:
            typer.echo(f"note: {n}")
        mpath = out / "sen2ships.manifest.json"
        dump_manifest(manifest, mpath)
        runs = [("uhf", mpath, None), ("sband", mpath, 1_000_000)]
    else:
        why = "--synthetic given" if synthetic else f"no imagery in {data}"
        typer.echo(f"{why}: generating a synthetic image set (exact ground truth)")
        mpath = build_synthetic_set(out / "synthetic-set")
        runs = [("synthetic", mpath, None)]
    reports = []
    for name, mpath, rate in runs:
        typer.echo(f"--- {name}: {mpath}" + (f" at {rate:,} bit/s" if rate else ""))
        dest = out / name
        simulate(
            manifest=mpath,
            out=dest,
            target=target,
            rate_bps=rate,
            overwrite=True,
            quiet=quiet,
            print_json=False,
            model=AUTO,
            classifiers=None,
            check_targets=False,
            keep_streams=None,
        )
        reports.append(dest / "report.html")
    if len(runs) > 1:
        reports.append(write_comparison([out / name for name, _, _ in runs], out / "compare.html"))
    typer.echo("")
    for r in reports:
        typer.echo(f"demo report: {r}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
