"""The simulator's report is self-contained: no request leaves the machine when it is
opened; and headless Chromium renders it (``triage screenshot``).

The detector is checked on a page made here with every kind of remote reference, and
the report is checked twice: by the detector, and by a plain search of its text for a
remote URL in any ``src``/``href``/``url()`` (independent of the HTML parser).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from triage.cli import app
from triage.screenshot import external_references, find_chromium
from triage.sim.runner import run_simulation

PAGE = """<!doctype html><html><head>
<link rel="stylesheet" href="https://cdn.example.org/a.css">
<style>body { background: url('//example.org/bg.png') } @import "http://example.org/b.css";</style>
<script src="HTTPS://example.org/x.js"></script></head><body>
<img srcset="local.png 1x, https://example.org/2x.png 2x">
<div style="background-image: url(http://example.org/c.png)"></div>
<a href="#top">top</a> <img src="data:image/png;base64,iVBORw0KGgo=">
<p>see https://example.org in the text (not a request)</p>
</body></html>"""


def test_detector_finds_every_remote_reference():
    assert external_references(PAGE) == [
        "https://cdn.example.org/a.css",
        "//example.org/bg.png",
        "http://example.org/b.css",
        "HTTPS://example.org/x.js",
        "https://example.org/2x.png",
        "http://example.org/c.png",
    ]
    assert external_references('<img src="data:image/png;base64,AA=="><a href="#x">') == []


@pytest.fixture(scope="module")
def report(tiny_set, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "offline"
    run_simulation(tiny_set, out)
    return out / "report.html"


def test_report_makes_no_external_request(report):
    text = report.read_text()
    assert external_references(text) == []
    remote = re.compile(
        r"""(?:\b(?:src|href|srcset|poster|action)\s*=\s*["']?|url\(\s*["']?|@import\s+["'])"""
        r"""\s*(?:https?:|ftp:|//)""",
        re.IGNORECASE,
    )
    assert not remote.findall(text)
    assert "<img" in text and 'src="data:image/png;base64,' in text  # images are inlined


@pytest.mark.skipif(find_chromium() is None, reason="no chromium (make setup installs it)")
def test_screenshot_of_the_report(report, tmp_path):
    png = tmp_path / "report.png"
    res = CliRunner().invoke(
        app, ["screenshot", str(report), "--out", str(png), "--width", "1000", "--height", "900"]
    )
    assert res.exit_code == 0, res.output
    img = np.asarray(Image.open(png).convert("RGB"))
    assert img.shape == (900, 1000, 3)
    # something was drawn: the page is not one colour, and its top holds dark text
    assert img.std() > 10 and (img[:200] < 80).any()


def test_screenshot_refuses_a_page_that_fetches(tmp_path):
    page = tmp_path / "remote.html"
    page.write_text(PAGE)
    res = CliRunner().invoke(app, ["screenshot", str(page)])
    assert res.exit_code != 0
    assert not (tmp_path / "remote.png").exists()
