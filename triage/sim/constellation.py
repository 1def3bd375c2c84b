"""Several satellites: ``orbit.satellites`` copies of the manifest's satellite, equally
spaced in mean anomaly in its orbital plane.

- Their TLEs (:func:`constellation_tles`) differ from the manifest's only in the mean
  anomaly (+ k x 360 / n degrees) and the catalogue number (+ k).
- Each scene is imaged by the satellite that passes over it first in daylight
  (:func:`assign_satellites`): its frames keep their offsets along the track and move
  to that satellite's access time.
- Each satellite has its own firmware, store and ground link (its own catalogue); the
  ground stations serve every satellite in view (an antenna per satellite), so each
  satellite gets every contact window of its own (:func:`constellation_passes`).
- Each satellite has its own spacecraft id (:func:`spacecraft_ids`: the first keeps
  ``DEFAULT_SPACECRAFT_ID``, satellite k gets it + k), stamped in every packet and transfer
  frame it sends, so the ground tells their streams apart and refuses one satellite's
  packets in another's catalogue.

With one satellite nothing changes: the manifest's frames, times and passes as they
are.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np

from triage.contract.packets import DEFAULT_SPACECRAFT_ID, MAX_SPACECRAFT_ID
from triage.sim.errors import OrbitError
from triage.sim.frames import FrameGeo, footprint_lonlat
from triage.sim.link import Pass, plan_passes
from triage.sim.manifest import Manifest, Orbit, Tle
from triage.sim.orbit import access_times

CAPTURE_SPAN = timedelta(days=5)


def _checksum(line: str) -> str:
    total = sum(int(c) if c.isdigit() else (1 if c == "-" else 0) for c in line[:68])
    return line[:68] + str(total % 10)


def constellation_tles(tle: Tle, n: int) -> list[Tle]:
    """``n`` TLEs: the given one, then copies moved by k x 360 / n degrees of mean anomaly
    (catalogue number + k)."""
    out = [tle]
    satnum = int(tle.line1[2:7])
    ma = float(tle.line2[43:51])
    for k in range(1, n):
        num = f"{(satnum + k) % 100000:05d}"
        m = (ma + 360.0 * k / n) % 360.0
        l1 = _checksum(tle.line1[:2] + num + tle.line1[7:])
        l2 = _checksum(tle.line2[:2] + num + tle.line2[7:43] + f"{m:8.4f}" + tle.line2[51:])
        out.append(Tle(name=f"{tle.name}-{k + 1}", line1=l1, line2=l2))
    return out


def spacecraft_ids(n: int) -> list[int]:
    """The spacecraft id of each of ``n`` satellites: ``DEFAULT_SPACECRAFT_ID`` + k."""
    ids = [DEFAULT_SPACECRAFT_ID + k for k in range(n)]
    if ids and ids[-1] > MAX_SPACECRAFT_ID:
        raise OrbitError(f"{n} satellites: spacecraft ids past {MAX_SPACECRAFT_ID:#x}")
    return ids


def assign_satellites(
    manifest: Manifest, geos: dict[int, FrameGeo]
) -> tuple[Manifest, dict[int, int]]:
    """(the manifest with its frames' capture times moved, satellite index per frame id)."""
    n = manifest.orbit.satellites
    if n == 1:
        return manifest, {f.frame_id: 0 for f in manifest.frames}
    if manifest.orbit.tle is None:
        raise OrbitError("orbit.satellites > 1 needs orbit.tle (contact windows computed)")
    tles = constellation_tles(manifest.orbit.tle, n)
    start = manifest.window_start_utc
    by_scene: dict[str, list] = {}
    for f in manifest.frames:
        by_scene.setdefault(f.scene, []).append(f)
    moved, sat_of = {}, {}
    for frames in by_scene.values():
        pts = np.array([p for f in frames for p in footprint_lonlat(geos[f.frame_id])])
        lon, lat = float(pts[:, 0].mean()), float(pts[:, 1].mean())
        first = []
        for t in tles:
            acc = access_times(t, lat, lon, start, start + CAPTURE_SPAN)
            first.append(acc[0].time_utc if acc else None)
        if first[0] is None or all(x is None for x in first):
            for f in frames:
                sat_of[f.frame_id] = 0
            continue
        k = min((i for i, x in enumerate(first) if x is not None), key=lambda i: first[i])
        shift = first[k] - first[0]
        for f in frames:
            sat_of[f.frame_id] = k
            moved[f.frame_id] = f.model_copy(
                update={"capture_time_utc": f.capture_time_utc + shift}
            )
    frames = [moved.get(f.frame_id, f) for f in manifest.frames]
    return manifest.model_copy(update={"frames": frames}), sat_of


def constellation_passes(manifest: Manifest) -> list[Pass]:
    """The contact windows of every satellite, in time order, numbered across them."""
    n = manifest.orbit.satellites
    if n == 1:
        return plan_passes(manifest)
    assert manifest.orbit.tle is not None
    out: list[Pass] = []
    for k, t in enumerate(constellation_tles(manifest.orbit.tle, n)):
        m = manifest.model_copy(update={"orbit": Orbit(tle=t)})
        out += [replace(p, satellite=k) for p in plan_passes(m)]
    out.sort(key=lambda p: (p.aos, p.satellite))
    return [replace(p, index=i) for i, p in enumerate(out)]
