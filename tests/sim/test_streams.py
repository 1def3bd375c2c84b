"""``--keep-streams``: the pass files as the ground received them, fed to the ground
station's own CLI, give the catalogue the simulated ground had; and the README's
ground-station commands run as written on the committed sample pass."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from triage import paths
from triage.sim.errors import OutputError
from triage.sim.runner import run_simulation

BIN = Path(sys.executable).parent


def _gs(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "groundstation"), *args],
        cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def kept(tiny_set, tmp_path_factory):
    root = tmp_path_factory.mktemp("kept")
    res = run_simulation(tiny_set, root / "run", keep_streams=root / "streams")
    return res, root


def test_kept_streams_rebuild_the_grounds_catalogue(kept):
    res, root = kept
    streams = root / "streams"
    index = json.loads((streams / "passes.json").read_text())["passes"]
    assert len(index) == len(res.passes)
    files = sorted(streams.glob("pass-*.bin"))
    assert [f.name for f in files] == [p["file"] for p in index if p["file"]]
    tri = res.modes["triage"]
    for p, t in zip(index, tri.traffic, strict=True):
        assert p["packets_received"] == t.packets_sent - t.packets_lost
        size = (streams / p["file"]).stat().st_size if p["file"] else 0
        assert size == p["bytes_received"]
    # the ground station's own CLI, on the kept files, in pass order
    work = root / "cli"
    work.mkdir()
    r = _gs("ingest", *map(str, files), "--db", "fresh.sqlite", cwd=work)
    assert r.returncode == 0, r.stderr
    r = _gs("status", "--db", "fresh.sqlite", "--json", cwd=work)
    fresh = json.loads(r.stdout)
    # the simulator's independent packet tracker counted the same complete products
    assert fresh["products"]["complete"] == res.ground["products_complete"]
    r = _gs("status", "--db", str(streams / "catalogue.sqlite"), "--json", cwd=work)
    assert json.loads(r.stdout)["products"] == fresh["products"]
    assert (streams / "sat.tle").exists() is False  # tiny_set lists explicit passes
    assert (streams / "stations.txt").read_text().startswith("svalbard=78.2298,15.4078,500")


def test_keep_streams_into_a_non_empty_folder_is_refused_first(tiny_set, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("mine")
    with pytest.raises(OutputError, match=r"--keep-streams folder .* not empty"):
        run_simulation(tiny_set, tmp_path / "run", keep_streams=busy)
    assert not (tmp_path / "run").exists() and (busy / "x").read_text() == "mine"


def _readme_groundstation_commands() -> list[list[str]]:
    text = (paths.repo_root() / "README.md").read_text()
    block = text.replace("\\\n", " ")
    cmds = []
    for line in block.splitlines():
        cmd = r"^groundstation (ingest|status|export|passes|plan|request)\b(.*)$"
        m = re.match(cmd, line.strip())
        if m:
            cmds.append(shlex.split(line.split("#")[0]))
    return cmds


def test_readme_groundstation_commands_run_on_the_sample(tmp_path):
    cmds = _readme_groundstation_commands()
    assert [c[1] for c in cmds] == ["ingest", "status", "export", "passes", "plan", "request"]
    (tmp_path / "samples").symlink_to(paths.repo_root() / "samples")
    for c in cmds:
        r = _gs(*c[1:], cwd=tmp_path)
        assert r.returncode == 0, f"{' '.join(c)}: {r.stderr}"
    assert list((tmp_path / "products").rglob("*.tif")), "export wrote no GeoTIFF"
    assert (tmp_path / "request.bin").exists(), "plan wrote no request for `request` to read"
    sample = paths.repo_root() / "samples" / "pass-0025.bin"
    assert sample.stat().st_size < 3_000_000  # a few MB at most
