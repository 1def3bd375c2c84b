"""Scoring against the labels: which labelled ships reached the ground, and when.

Labels are COCO boxes in a scene's pixel grid (the real ports' files, or the
synthetic generator's exact truth in the same format). A labelled ship counts
once per scene however many overlapping frames hold it; it is *labelled* when its
box centre lies in at least one frame of the image set, and *delivered* when a
delivered full-resolution product covers its box centre with a kept pixel: for
triage a ship crop complete on the ground whose pixel under the centre is not
masked (the firmware sets the pixels of a crop's box outside its kept cells to
the frame's no-data value in every band), for a baseline a whole frame complete
on the ground.
Its delivery time is the earliest such completion; its latency counts from the
capture of the frame that delivered it.

A ship is *visible* unless its truth says it lies under cloud (``under_cloud`` in
its COCO annotation, written by the cloud layer of :mod:`triage.sim.scenarios`):
recall is reported over all ships and over the visible ones, the ships a camera
could see. Where the truth says how much of the centre pixel the cloud hides
(``cloud_alpha``), ships are also grouped by the cloud over them: ``clear`` (less than
:data:`THIN_CLOUD_FROM`), ``thin_cloud`` (visible, from it on) and ``under_cloud``.

*Crop precision* (:func:`crop_precision`): of the full-resolution ship crops
complete on the ground, the share that hold at least one labelled ship's box
centre on a kept pixel; the rest are bytes spent on false alarms.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from triage.sim.errors import SceneError
from triage.sim.manifest import Frame, Manifest, resolve_path

THIN_CLOUD_FROM = 0.05
"""A visible ship lies under thin cloud when laid cloud hides at least this share of its
box centre's pixel (less: clear sky)."""
CLOUD_CLASSES = ("clear", "thin_cloud", "under_cloud")


@dataclass(frozen=True)
class LabelledShip:
    scene: str
    label_id: int
    x: float  # COCO bbox, scene pixels
    y: float
    w: float
    h: float
    under_cloud: bool = False
    cloud_alpha: float | None = None  # how much of the centre pixel laid cloud hides

    @property
    def visible(self) -> bool:
        return not self.under_cloud

    @property
    def cloud_class(self) -> str | None:
        """``under_cloud``, ``thin_cloud`` (visible, the cloud hides at least
        :data:`THIN_CLOUD_FROM` of the centre pixel) or ``clear``; None when the truth does
        not say how much cloud lies over the ship."""
        if self.under_cloud:
            return "under_cloud"
        if self.cloud_alpha is None:
            return None
        return "thin_cloud" if self.cloud_alpha >= THIN_CLOUD_FROM else "clear"

    @property
    def centre(self) -> tuple[float, float]:
        """(row, col) of the box centre in scene pixels."""
        return (self.y + self.h / 2.0, self.x + self.w / 2.0)


@dataclass(frozen=True)
class Delivery:
    """A full-resolution product on the ground: frame pixels it covers, and when.

    ``kept``: for a masked product, a ``[rows, cols]`` boolean array, True where the
    product carries the frame's pixel (None: every pixel of the box is kept).
    """

    frame_id: int
    row0: int
    col0: int
    rows: int
    cols: int
    time: datetime
    kept: np.ndarray | None = field(default=None, compare=False, repr=False)

    def covers(self, row: float, col: float) -> bool:
        """Is frame pixel position (row, col) on a kept pixel of the product?"""
        if not _inside(row, col, self.row0, self.col0, self.rows, self.cols):
            return False
        if self.kept is None:
            return True
        r, c = math.floor(row) - self.row0, math.floor(col) - self.col0
        return bool(self.kept[r, c])


@dataclass(frozen=True)
class ShipOutcome:
    ship: LabelledShip
    delivered_at: datetime | None
    frame_id: int | None
    latency_s: float | None


def load_coco_boxes(path: Path, scene: str) -> list[LabelledShip]:
    try:
        coco = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SceneError(f"scene {scene}: labels not found: {path}") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise SceneError(f"scene {scene}: labels {path} cannot be read: {exc}") from None
    out = []
    try:
        for ann in coco["annotations"]:
            x, y, w, h = (float(v) for v in ann["bbox"])
            cloud = bool(ann.get("under_cloud", False))
            alpha = ann.get("cloud_alpha")
            alpha = None if alpha is None else float(alpha)
            out.append(LabelledShip(scene, int(ann["id"]), x, y, w, h, cloud, alpha))
    except (KeyError, TypeError, ValueError) as exc:
        raise SceneError(f"scene {scene}: labels {path} are not COCO boxes: {exc!r}") from None
    return out


def _inside(row: float, col: float, r0: float, c0: float, rows: float, cols: float) -> bool:
    return r0 <= row < r0 + rows and c0 <= col < c0 + cols


def labelled_ships(manifest: Manifest, manifest_dir: Path) -> list[LabelledShip]:
    """Every labelled ship whose box centre lies in a frame of the set (once per scene)."""
    by_scene: dict[str, list[Frame]] = {}
    for f in manifest.frames:
        by_scene.setdefault(f.scene, []).append(f)
    ships: list[LabelledShip] = []
    for scene, frames in by_scene.items():
        label_paths = {f.labels.path for f in frames if f.labels is not None}
        if not label_paths:
            continue
        if len(label_paths) > 1:
            raise SceneError(f"scene {scene}: frames disagree on the labels file")
        boxes = load_coco_boxes(resolve_path(next(iter(label_paths)), manifest_dir), scene)
        for s in boxes:
            r, c = s.centre
            if any(
                _inside(r, c, f.window.row0, f.window.col0, f.window.rows, f.window.cols)
                for f in frames
            ):
                ships.append(s)
    return ships


def score(
    ships: list[LabelledShip],
    deliveries: list[Delivery],
    frames: dict[int, Frame],
) -> list[ShipOutcome]:
    """Match ships to deliveries (frame pixels mapped into scene pixels)."""
    by_scene: dict[str, list[tuple[Delivery, Frame]]] = {}
    for d in deliveries:
        f = frames[d.frame_id]
        by_scene.setdefault(f.scene, []).append((d, f))
    out = []
    for s in ships:
        r, c = s.centre
        best: tuple[Delivery, Frame] | None = None
        for d, f in by_scene.get(s.scene, []):
            if d.covers(r - f.window.row0, c - f.window.col0) and (
                best is None or d.time < best[0].time
            ):
                best = (d, f)
        if best is None:
            out.append(ShipOutcome(s, None, None, None))
        else:
            d, f = best
            out.append(
                ShipOutcome(s, d.time, d.frame_id, (d.time - f.capture_time_utc).total_seconds())
            )
    return out


def crop_hits(
    ships: list[LabelledShip], deliveries: list[Delivery], frames: dict[int, Frame]
) -> list[int]:
    """Per delivered ship crop (same order): how many labelled ships' box centres lie on a
    kept pixel of it."""
    by_scene: dict[str, list[LabelledShip]] = {}
    for s in ships:
        by_scene.setdefault(s.scene, []).append(s)
    out = []
    for d in deliveries:
        f = frames[d.frame_id]
        n = 0
        for s in by_scene.get(f.scene, []):
            r, c = s.centre
            if d.covers(r - f.window.row0, c - f.window.col0):
                n += 1
        out.append(n)
    return out


def crop_precision(hits: list[int]) -> float | None:
    """Share of delivered ship crops holding a labelled ship (None without any crop)."""
    return round(sum(1 for h in hits if h) / len(hits), 4) if hits else None
