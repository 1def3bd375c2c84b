"""Screenshots of the HTML reports with headless Chromium, and their self-containment.

A report (``report.html`` of ``triage simulate``) is one file meant to be mailed or
archived with a run: every image is inlined, nothing is fetched. :func:`external_references`
lists what would make a browser go to the network (an ``http(s)``, protocol-relative or
``ftp`` URL in a ``src``, ``href``, ``srcset``, ``poster``, ``data`` or ``action``
attribute, or in a CSS ``url(...)`` / ``@import``); :func:`screenshot` renders the page with
Debian's ``chromium`` (``apt-get install --no-install-recommends chromium``) in headless
mode, with the network cut off (every host name resolves to nothing), a throw-away
profile, no first-run, sync, component-update or background traffic, and writes a PNG of
the window (``--window-size``: the top of the report; ``pdf=True`` prints the whole page
to PDF instead).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

from triage.errors import TriageError

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)
"""The flags every run gets (with ``--user-data-dir`` a fresh temporary folder)."""

_REMOTE = re.compile(r"^\s*(?:https?:|ftp:|//)", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""", re.IGNORECASE)
_URL_ATTRS = {"src", "href", "srcset", "poster", "data", "action", "formaction", "background"}


class ScreenshotError(TriageError, RuntimeError):
    """The report is missing, Chromium is missing, or it failed to render the page."""


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_style = False

    def _css(self, text: str) -> None:
        for m in _CSS_URL.finditer(text):
            url = m.group(1) or m.group(2)
            if _REMOTE.match(url):
                self.found.append(url)

    def handle_starttag(self, tag, attrs) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "style":
                self._css(value)
            elif name in _URL_ATTRS:
                urls = [value]
                if name == "srcset":
                    urls = [u.strip().split(" ")[0] for u in value.split(",")]
                self.found += [u for u in urls if _REMOTE.match(u)]
        self._in_style = tag == "style"

    def handle_endtag(self, tag) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data) -> None:
        if self._in_style:
            self._css(data)


def external_references(html_text: str) -> list[str]:
    """Every URL in ``html_text`` that a browser would fetch from the network."""
    p = _Refs()
    p.feed(html_text)
    p.close()
    return p.found


def find_chromium() -> str | None:
    """The path of a Chromium binary, or None."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(
    html: Path,
    out: Path,
    *,
    width: int = 1280,
    height: int = 2400,
    pdf: bool = False,
    timeout_s: float = 120.0,
) -> Path:
    """Render ``html`` with headless Chromium to a PNG (``width`` x ``height``) or, with
    ``pdf``, the whole page to a PDF, at ``out``. :class:`ScreenshotError` when Chromium
    is absent or fails."""
    html = Path(html).resolve()
    if not html.is_file():
        raise ScreenshotError(f"report {html} does not exist")
    if width < 64 or height < 64:
        raise ScreenshotError(f"window {width} x {height}: at least 64 x 64 pixels")
    browser = find_chromium()
    if browser is None:
        raise ScreenshotError(
            "no Chromium found: install Debian's with "
            "'apt-get install --no-install-recommends chromium'"
        )
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="triage-chromium-") as profile:
        target = f"--print-to-pdf={out}" if pdf else f"--screenshot={out}"
        cmd = [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "--no-pdf-header-footer",
            target,
            html.as_uri(),
        ]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise ScreenshotError(f"chromium did not finish within {timeout_s:g} s") from None
    if res.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
        raise ScreenshotError(f"chromium failed (exit {res.returncode}): {' | '.join(tail)}")
    return out
