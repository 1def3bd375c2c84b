"""Checks of a run against independent evidence, and the scoring's on-board inputs.

- :func:`verify_crops`: every ship crop the ground exported, read back from its
  GeoTIFF, against the source GeoTIFFs at its georeferenced place, band by band as
  the export report names them (``B02 blue``...), never by parsing a file name;
- :func:`ship_crops_disagree`: the ground's catalogue against the simulator's own
  packet tracker (:mod:`triage.sim.tracker`) on which ship crops are complete;
- :func:`onboard_diagnostics`: where ships were lost, if any: cells a perfect
  classifier would crop (those holding a labelled ship's box centre, the labelling
  rule of models/MODEL_CARD.md), ships the firmware cropped, and of the ships not
  delivered, those the classifier missed and those cropped but never sent.
"""

from __future__ import annotations

import numpy as np

from triage.contract.tile_spec import tile_spec
from triage.sim.errors import VerificationError
from triage.sim.frames import FrameGeo
from triage.sim.ground import ExportedFile, ExportReport
from triage.sim.manifest import Frame
from triage.sim.scoring import LabelledShip, ShipOutcome


def verify_crops(export: ExportReport, geos: dict[int, FrameGeo]) -> tuple[int, int]:
    """(crops checked, crops with a kept pixel whose every kept pixel - one with a band
    other than no-data - equals the source's in every band).

    :class:`VerificationError` when a crop belongs to a frame not in ``geos``.
    """
    checked = exact = 0
    for f in export.crop_files:
        geo = geos.get(f.frame_id)
        if geo is None:
            raise VerificationError(
                f"the ground exported {f.path.name} for frame {f.frame_id}, which is not a "
                f"frame of the image set ({', '.join(map(str, sorted(geos))) or 'none'})"
            )
        checked += 1
        if _crop_equals_source(f, geo):
            exact += 1
    return checked, exact


def _crop_equals_source(f: ExportedFile, geo: FrameGeo) -> bool:
    import rasterio
    from rasterio.windows import from_bounds

    with rasterio.open(f.path) as ds:
        crop = ds.read()
        bounds = ds.bounds
        nodata = ds.nodata
    if len(f.bands) != crop.shape[0] or any(b.role not in geo.band_names for b in f.bands):
        return False  # a band the source does not name: nothing to compare it with
    bands = []
    for b in f.bands:
        k = geo.band_names.index(b.role)
        with rasterio.open(geo.band_paths[k]) as src:
            win = from_bounds(*bounds, transform=src.transform)
            win = win.round_offsets().round_lengths()
            bands.append(src.read(geo.band_indexes[k], window=win))
    src_px = np.stack(bands)
    if src_px.shape != crop.shape:
        return False
    kept = (crop != nodata).any(axis=0)
    return bool(kept.any() and np.array_equal(src_px[:, kept], crop[:, kept]))


def ship_crops_disagree(catalogued: set, tracked: set) -> str | None:
    """A note when the catalogue and the packet tracker disagree on complete ship crops."""
    if catalogued == tracked:
        return None
    return (
        f"ground catalogue and packet tracker disagree on complete ship crops: "
        f"{len(catalogued)} vs {len(tracked)}"
    )


def cells_holding_ships(
    ships: list[LabelledShip], geos: dict[int, FrameGeo], frames: dict[int, Frame]
) -> int:
    """Cells (all frames) that hold a labelled ship's box centre: the cells a perfect
    classifier would crop (the labelling rule of models/MODEL_CARD.md)."""
    c = tile_spec().cell_px
    n = 0
    for fid, geo in geos.items():
        f = frames[fid]
        held = set()
        for s in ships:
            if s.scene != f.scene:
                continue
            r, col = s.centre
            fr, fc = r - f.window.row0, col - f.window.col0
            if 0 <= fr < geo.rows and 0 <= fc < geo.cols:
                held.add((int(fr) // c, int(fc) // c))
        n += len(held)
    return n


def cropped_on_board(
    ships: list[LabelledShip],
    crop_cells: dict[int, list[tuple[int, int]]],
    frames: dict[int, Frame],
) -> list[bool]:
    """Per labelled ship: did the firmware mark the cell holding its box centre for a crop?"""
    t = tile_spec().cell_px
    out = []
    for s in ships:
        r, c = s.centre
        hit = False
        for fid, origins in crop_cells.items():
            f = frames[fid]
            if f.scene != s.scene:
                continue
            fr, fc = r - f.window.row0, c - f.window.col0
            if any(r0 <= fr < r0 + t and c0 <= fc < c0 + t for r0, c0 in origins):
                hit = True
                break
        out.append(hit)
    return out


def onboard_diagnostics(
    ships: list[LabelledShip],
    outcomes: list[ShipOutcome],
    crop_cells: dict[int, list[tuple[int, int]]],
    cells_total: int,
    geos: dict[int, FrameGeo],
    frames: dict[int, Frame],
) -> dict[str, int]:
    """Cells and ships on board: ``outcomes`` are triage's, one per ship of ``ships``."""
    on_board = cropped_on_board(ships, crop_cells, frames)
    undelivered = [o.delivered_at is None for o in outcomes]
    pairs = list(zip(undelivered, on_board, strict=True))
    return {
        "cells_total": cells_total,
        "cells_crop": sum(len(v) for v in crop_cells.values()),
        "cells_holding_a_labelled_ship": cells_holding_ships(ships, geos, frames),
        "ships_cropped_on_board": sum(on_board),
        "ships_missed_by_classifier": sum(1 for u, c in pairs if u and not c),
        "ships_cropped_not_delivered": sum(1 for u, c in pairs if u and c),
    }
