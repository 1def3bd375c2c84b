"""``--keep-streams DIR``: what the ground station received, kept for its own tools.

A run with ``--keep-streams DIR`` writes, besides its report:

- ``pass-NNNN.bin``: the space packets that reached the ground in pass ``NNNN``
  (the store directory and the downlink, in arrival order, lost packets absent),
  exactly the bytes the simulated ground ingested; one file per pass that carried
  any packet;
- on the physical channel (``packet_loss.model`` ``link_budget``) instead,
  ``pass-NNNN-vcV.cadu``: each transmission of the pass (the directory on virtual
  channel 1, the products on 0) as the CADU stream the ground's receiver got, bit
  errors included (``groundstation ingest --format cadu``);
- ``request-NNNN.bin``: the DOWNLINK_REQUEST telecommand the ground uplinked for
  that pass (``groundstation plan --request-out`` writes the same kind of file); when it
  was lost on the uplink and the ground planned again from the mid-pass directory, the
  second is ``request-NNNN-2.bin`` (``passes.json`` says which reached the satellite);
- ``catalogue.sqlite`` (and ``catalogue.sqlite.segments``): the ground's catalogue
  after the run;
- ``sat.tle`` (when the manifest has a TLE) and ``stations.txt``
  (``NAME=LAT,LON,ALT_M`` per line, the ``--station`` syntax, with each station's
  elevation mask);
- ``passes.json``: every pass with its station, AOS/LOS, budget, the packets and
  bytes sent and received, and its file;
- ``README.md``: the ``groundstation`` commands to try on them.

With several satellites (``orbit.satellites``), ``DIR`` holds one such folder per
satellite, ``sat-1`` .. ``sat-N``: its passes, its catalogue, its own TLE, and a README
whose commands name its spacecraft id (``--spacecraft-id``: each satellite stamps its
own in every packet and frame, :func:`triage.sim.constellation.spacecraft_ids`), with
``constellation.json`` and a README at the top that list the satellites.

The folder is written beside ``DIR`` and renamed once complete, like the run's
output, so a failed run leaves no folder that looks complete.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from triage.contract.packets import DEFAULT_SPACECRAFT_ID
from triage.sim.constellation import constellation_tles, spacecraft_ids
from triage.sim.errors import OutputError
from triage.sim.link import Pass
from triage.sim.manifest import Manifest, Tle

CATALOGUE_FILES = ("catalogue.sqlite", "catalogue.sqlite.segments", "catalogue.sqlite-wal")


@dataclass
class StreamKeeper:
    """Collects, per pass, what reached the ground (the packets; on the physical channel,
    the CADUs as received, bit errors and all) and the uplinked request."""

    received: dict[int, list[bytes]] = field(default_factory=dict)
    requests: dict[int, list[tuple[bytes, bool]]] = field(default_factory=dict)
    """Per pass, each request the ground uplinked, in order, and whether the uplink lost it."""
    cadus: dict[int, list[tuple[int, bytes]]] = field(default_factory=dict)
    """Per pass, each transmission's CADU stream as received, with its virtual channel."""

    def arrived(self, pass_index: int, packets: list[bytes]) -> None:
        self.received.setdefault(pass_index, []).extend(packets)

    def arrived_cadus(self, pass_index: int, vcid: int, stream: bytes) -> None:
        self.cadus.setdefault(pass_index, []).append((vcid, bytes(stream)))

    def uplinked(self, pass_index: int, request: bytes, lost: bool = False) -> None:
        self.requests.setdefault(pass_index, []).append((bytes(request), lost))


def prepare_streams_dir(dest: Path, overwrite: bool) -> None:
    """:class:`OutputError` now, before the run, when ``dest`` cannot be written."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise OutputError(f"--keep-streams {dest} exists and is not a folder")
    if dest.exists() and any(dest.iterdir()) and not overwrite:
        raise OutputError(
            f"--keep-streams folder {dest} exists and is not empty (choose another, or --overwrite)"
        )
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write in {dest.parent}: {exc}") from None


def write_streams(
    keeper: StreamKeeper,
    manifest: Manifest,
    passes: list[Pass],
    sent: list[tuple[int, int]],
    ground_folders: list[Path],
    dest: Path,
) -> Path:
    """Write the kept streams into ``dest`` (atomically); ``sent``: (packets, bytes) put on
    the air per pass; ``ground_folders``: each satellite's ground catalogue folder."""
    dest = Path(dest)
    tmp = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        n = len(ground_folders)
        if n == 1:
            _write_satellite(
                tmp, keeper, manifest, passes, sent, ground_folders[0], manifest.orbit.tle, None
            )
        else:
            ids = spacecraft_ids(n)
            tles = constellation_tles(manifest.orbit.tle, n)
            sats = []
            for k in range(n):
                sub = tmp / f"sat-{k + 1}"
                sub.mkdir()
                mine = [p for p in passes if p.satellite == k]
                index = _write_satellite(
                    sub, keeper, manifest, mine, sent, ground_folders[k], tles[k], ids[k]
                )
                sats.append(
                    {
                        "folder": sub.name,
                        "name": tles[k].name,
                        "spacecraft_id": ids[k],
                        "spacecraft_id_hex": f"0x{ids[k]:03X}",
                        "passes": len(mine),
                        "passes_with_data": sum(1 for p in index if p["file"] or p["cadu_files"]),
                        "bytes_received": sum(p["bytes_received"] for p in index),
                        "cadu_bytes": sum(p["cadu_bytes"] for p in index),
                    }
                )
            (tmp / "constellation.json").write_text(
                json.dumps({"link": manifest.link.model_dump(), "satellites": sats}, indent=1)
                + "\n"
            )
            (tmp / "README.md").write_text(_constellation_readme(manifest, sats))
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _write_satellite(
    out: Path,
    keeper: StreamKeeper,
    manifest: Manifest,
    passes: list[Pass],
    sent: list[tuple[int, int]],
    ground_folder: Path,
    tle: Tle | None,
    spacecraft_id: int | None,
) -> list[dict]:
    """One satellite's kept folder (``spacecraft_id`` None: the only one); its pass index."""
    index = []
    for p in passes:
        pk = keeper.received.get(p.index, [])
        name = f"pass-{p.index:04d}.bin"
        if pk:
            (out / name).write_bytes(b"".join(pk))
        cadu_files, cadu_bytes = [], 0
        for vcid, stream in keeper.cadus.get(p.index, []):
            cname = f"pass-{p.index:04d}-vc{vcid}.cadu"
            (out / cname).write_bytes(stream)
            cadu_files.append(cname)
            cadu_bytes += len(stream)
        requests = []
        for k, (req, lost) in enumerate(keeper.requests.get(p.index, []), 1):
            rname = f"request-{p.index:04d}{f'-{k}' if k > 1 else ''}.bin"
            (out / rname).write_bytes(req)
            requests.append({"file": rname, "lost_on_uplink": lost})
        index.append(
            {
                "pass": p.index,
                "station": p.station,
                "aos_utc": p.aos.isoformat(),
                "los_utc": p.los.isoformat(),
                "max_elevation_deg": p.max_elevation_deg,
                "budget_bytes": p.budget_bytes,
                "packets_sent": sent[p.index][0],
                "bytes_sent": sent[p.index][1],
                "packets_received": len(pk),
                "bytes_received": sum(len(x) for x in pk),
                "file": name if pk else None,
                "cadu_files": cadu_files,
                "cadu_bytes": cadu_bytes,
                "requests": requests,
            }
        )
    head = {"link": manifest.link.model_dump()}
    if spacecraft_id is not None:
        head["spacecraft_id"] = spacecraft_id
    (out / "passes.json").write_text(
        json.dumps({**head, "passes": index}, indent=1, default=str) + "\n"
    )
    for n in CATALOGUE_FILES:
        if (ground_folder / n).exists():
            shutil.copy2(ground_folder / n, out / n)
    if tle is not None:
        (out / "sat.tle").write_text(tle.text)
    (out / "stations.txt").write_text(
        "".join(
            f"{s.name}={s.latitude_deg},{s.longitude_deg},{s.altitude_m:g}"
            f"  # elevation mask {s.min_elevation_deg:g} deg\n"
            for s in manifest.stations
        )
    )
    (out / "README.md").write_text(_readme(manifest, index, tle, spacecraft_id))
    return index


def _constellation_readme(manifest: Manifest, sats: list[dict]) -> str:
    """The top README of a constellation's kept streams: one folder per satellite."""
    rows = "\n".join(
        f"| [`{s['folder']}/`]({s['folder']}/README.md) | {s['name']} | "
        f"{s['spacecraft_id_hex']} | {s['passes_with_data']} of {s['passes']} |"
        for s in sats
    )
    return f"""# Pass streams of a simulation: {manifest.name}

{len(sats)} satellites, each with its own store, ground catalogue and spacecraft id, stamped in
every packet and transfer frame it sends. Link: {manifest.link.name}, \
{manifest.link.rate_bps:,} bit/s.
Each folder holds one satellite's passes, catalogue, TLE and the `groundstation` commands
to try on them (`constellation.json` lists the same).

| folder | satellite | spacecraft id | passes with data |
| --- | --- | --- | --- |
{rows}

A catalogue accepts one spacecraft (`--spacecraft-id`): another satellite's passes ingested
into it are refused and counted by id, and nothing of them is stored.
"""


def _readme(
    manifest: Manifest, index: list[dict], tle: Tle | None, spacecraft_id: int | None
) -> str:
    """The kept folder's README: its files and the ``groundstation`` commands to try on them
    (bare packets, or on the physical channel each transmission's CADUs); a satellite of a
    constellation (``spacecraft_id``) is named, and so is its id in the commands."""
    link = f"Link: {manifest.link.name}, {manifest.link.rate_bps:,} bit/s."
    if spacecraft_id is not None:
        link += (
            f"\nSatellite {tle.name if tle else ''} of {manifest.orbit.satellites}, spacecraft id "
            f"0x{spacecraft_id:03X}: its packets and frames carry it, and a catalogue takes\n"
            "them only with `--spacecraft-id` (another satellite's are refused)."
        )
    if any(p["cadu_files"] for p in index):  # the physical channel
        files = [p for p in index if p["cadu_files"]]
        big = max(files, key=lambda p: p["cadu_bytes"])
        first = max(big["cadu_files"], key=lambda f: f.endswith("-vc0.cadu"))
        intro = (
            "What the simulated ground station's receiver got, pass by pass, on the physical\n"
            f"channel ({len(files)} of {len(index)} passes carried data; `passes.json` lists "
            f"them all). {link}\n"
            "Each transmission of a pass is a stream of CCSDS 131.0-B CADUs (attached sync\n"
            "marker, pseudo-randomised, Reed-Solomon (255,223) at depth 5) with the bit errors\n"
            "the link budget gave it along the pass: the directory on virtual channel 1, the\n"
            "products on virtual channel 0, each encoded on its own (frame counts from 0)."
        )
        rows = (
            "| `pass-NNNN-vc1.cadu` | the STORE_DIRECTORY transmission of pass NNNN, as "
            "received |\n| `pass-NNNN-vc0.cadu` | the products of pass NNNN, as received |"
        )
        how = "each file is a stream of its own; RS corrections and lost frames are reported"
        every, fmt = "pass-*.cadu", " --format cadu"
    else:
        files = [p for p in index if p["file"]]
        first = max(files, key=lambda p: p["bytes_received"])["file"] if files else "pass-0000.bin"
        intro = (
            f"What the simulated ground station received, pass by pass ({len(files)} of "
            f"{len(index)}\npasses carried packets; `passes.json` lists them all with their "
            f"budgets and byte counts).\n{link}"
        )
        rows = (
            "| `pass-NNNN.bin` | the space packets that reached the ground in pass NNNN, in "
            "arrival order |"
        )
        how = (
            "a fresh catalogue from the pass that brought the most bytes, then every pass in order"
        )
        every, fmt = "pass-*.bin", ""
    st = manifest.stations[0] if manifest.stations else None
    station = (
        f"{st.name}={st.latitude_deg},{st.longitude_deg},{st.altitude_m:g}"
        if st
        else "NAME=LAT,LON,ALT_M"
    )
    if spacecraft_id is not None and spacecraft_id != DEFAULT_SPACECRAFT_ID:
        fmt += f" --spacecraft-id 0x{spacecraft_id:03X}"
    asked = (
        "\n# what the ground asked for in each pass, its products named from the run's catalogue"
        "\ngroundstation request request-*.bin --db catalogue.sqlite"
        if any(p["requests"] for p in index)
        else ""
    )
    start = manifest.window_start_utc.strftime("%Y-%m-%dT%H:%MZ")
    end = manifest.window_end_utc.strftime("%Y-%m-%dT%H:%MZ")
    tle = (
        f"""
```sh
# contact windows, budgets and what to ask for in each pass
groundstation plan --db catalogue.sqlite --tle sat.tle --station {station} \\
    --rate-bps {manifest.link.rate_bps} --start {start} --end {end} \\
    --min-elevation {st.min_elevation_deg if st else 10:g}
```
"""
        if tle is not None
        else "\nThe manifest lists its passes explicitly (no TLE): `plan` needs a TLE.\n"
    )
    return f"""# Pass streams of a simulation: {manifest.name}

{intro}

| file | what |
| --- | --- |
{rows}
| `request-NNNN.bin` | the DOWNLINK_REQUEST the ground uplinked for pass NNNN |
| `request-NNNN-2.bin` | the one planned at mid-pass, the first lost on the uplink (`passes.json`) |
| `catalogue.sqlite`, `catalogue.sqlite.segments` | the ground's catalogue after every pass |
| `sat.tle`, `stations.txt` | the orbit and the ground stations (`NAME=LAT,LON,ALT_M`) |

Try the ground station on them (from this folder):

```sh
# {how}
groundstation ingest {first}{fmt} --db mine.sqlite
groundstation ingest {every}{fmt} --db all.sqlite
groundstation status --db all.sqlite
groundstation export --db all.sqlite --out products/{asked}
# or the run's own catalogue
groundstation status --db catalogue.sqlite
```
{tle}"""
