"""Scene mosaics for the report: the ground's frame mosaics placed on each scene's grid.

The ground exports one mosaic per frame (:mod:`ground_station.export`); the report
shows one image per scene, so the frames of a scene are pasted (in the export's
order, no-data transparent) into one GeoTIFF on the scene's grid and CRS,
``scene-<name>.tif`` beside the ground's export.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from triage.sim.frames import FrameGeo
from triage.sim.ground import PREVIEW, ExportReport
from triage.sim.manifest import Manifest


def scene_mosaics(
    export: ExportReport, manifest: Manifest, geos: dict[int, FrameGeo], folder: Path
) -> list[dict]:
    """Per scene, the ground's frame mosaics placed on the scene grid (one GeoTIFF each):
    ``{"scene", "path", "scene_transform", "attribution", "rgb_bands"}``, the RGB bands
    being those the export report names red, green and blue."""
    import rasterio
    from affine import Affine

    by_scene: dict[str, list] = {}
    for fe in export.frames:
        f = next((x for x in manifest.frames if x.frame_id == fe.frame_id), None)
        if f is not None:
            by_scene.setdefault(f.scene, []).append((f, fe))
    out = []
    for scene, items in by_scene.items():
        geo0 = geos[items[0][0].frame_id]
        rows, cols = geo0.scene_rows, geo0.scene_cols
        canvas = None
        for f, fe in items:
            with rasterio.open(fe.mosaic_tif) as ds:
                px = ds.read()
                nodata = ds.nodata
            if canvas is None:
                canvas = np.full((px.shape[0], rows, cols), nodata or 0, dtype=px.dtype)
            if px.shape[0] != canvas.shape[0]:
                continue
            w = f.window
            region = canvas[:, w.row0 : w.row0 + w.rows, w.col0 : w.col0 + w.cols]
            valid = px != (nodata if nodata is not None else -1)
            region[valid] = px[valid]
        if canvas is None:
            continue
        path = folder / f"scene-{scene}.tif"
        with rasterio.open(
            path,
            "w",
            driver="GTiff",
            width=cols,
            height=rows,
            count=canvas.shape[0],
            dtype=canvas.dtype,
            crs=f"EPSG:{geo0.crs_epsg}",
            transform=Affine.from_gdal(*geo0.scene_transform),
            nodata=0,
            compress="deflate",
        ) as ds:
            ds.write(canvas)
        attribution = items[0][0].attribution or ""
        out.append(
            {
                "scene": scene,
                "path": str(path),
                "scene_transform": None,
                "attribution": attribution,
                # the bands the ground's preview shows as red, green, blue (1-based)
                "rgb_bands": [b.index for b in items[0][1].file(PREVIEW).bands],
            }
        )
    return out
