"""``triage screenshot``: a PNG (or PDF) of an HTML report, rendered by headless Chromium."""

from __future__ import annotations

from pathlib import Path

import typer

from triage.screenshot import ScreenshotError, external_references, screenshot


def screenshot_command(
    report: Path = typer.Argument(..., help="The HTML report (report.html of triage simulate)."),
    out: Path | None = typer.Option(
        None, "--out", help="The image to write (default: the report's name with .png/.pdf)."
    ),
    width: int = typer.Option(1280, help="Window width, pixels."),
    height: int = typer.Option(2400, help="Window height, pixels (the PNG shows this much)."),
    pdf: bool = typer.Option(False, "--pdf", help="Print the whole page to PDF instead."),
) -> None:
    """Render a report with headless Chromium (Debian's chromium), network cut off.

    Fails when the report refers to anything on the network (it must be self-contained).
    """
    if report.is_file():
        remote = external_references(report.read_text(errors="replace"))
        if remote:
            raise ScreenshotError(
                f"{report} fetches {len(remote)} external resource(s), e.g. {remote[0]}"
            )
    target = out or report.with_suffix(".pdf" if pdf else ".png")
    path = screenshot(report, target, width=width, height=height, pdf=pdf)
    typer.echo(f"{path} ({path.stat().st_size} bytes)")


def register(app: typer.Typer) -> None:
    app.command("screenshot")(screenshot_command)
