"""Cloud-Optimized GeoTIFFs: how the ground station writes every raster it exports.

A COG is a tiled GeoTIFF whose overviews follow the full-resolution image and
whose header (all IFDs) sits at the start of the file, so that a client
(QGIS, GDAL's ``/vsicurl/``, a tile server, odc-stac) reads only the tiles it
needs. The file is made in two steps: the pixels and their metadata go into an
in-memory GeoTIFF, then GDAL's COG driver copies it out (it builds the
overviews and lays the file out); the copy lands under a temporary name and is
renamed, so that a reader never sees half a file.

What every exported raster carries (:func:`write_cog`):

- 256 x 256 internal tiles (one tile for a smaller raster), pixel interleaved (the
  driver's default);
- overviews by halving until the smallest fits in one tile (``OVERVIEWS=AUTO``:
  a raster no larger than a tile has none, and needs none), averaged for
  samples (no-data excluded), nearest for classes;
- ``DEFLATE`` (level 6) with the horizontal-differencing predictor
  (``PREDICTOR=2``, the one for integer samples; 3 is for floating point).
  DEFLATE rather than ZSTD: every GDAL build, QGIS release and browser
  GeoTIFF reader decodes it;
- the no-data value, one description per band (``B02 blue`` ...), the colour
  interpretation of each band (blue, green, red, near infrared: QGIS then
  shows B04 as red without being told), each band's scale and offset to a
  physical value (reflectance) when it is known, and tags (dataset and band
  level) with the rest (attribution, frame and product ids, the instrument's
  dn scale).

The pixels are written as they are: reading the COG back gives the array that
went in, bit for bit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ground_station.errors import InputError

BLOCKSIZE = 256
"""Internal tile size of the exported COGs (pixels), 256 rather than GDAL's 512: ship crops
and quicklooks are small. A raster smaller than that is one tile of its own size rounded up
to a multiple of 16 (:func:`block_size`): a 48 x 40 crop padded to 256 x 256 would cost
about 3 kB more."""


def block_size(rows: int, cols: int) -> int:
    """The COG tile side for a raster: :data:`BLOCKSIZE`, or one tile when it fits in
    less (GDAL's COG driver needs a multiple of 16)."""
    return min(BLOCKSIZE, 16 * -(-max(rows, cols, 1) // 16))


COMPRESS = "DEFLATE"
DEFLATE_LEVEL = 6


@dataclass(frozen=True)
class BandMeta:
    """What a written band says about itself.

    ``description``: GDAL's band description (``B04 red``); ``colorinterp``: a
    name of :class:`rasterio.enums.ColorInterp` (``red``, ``nir``, ``gray``,
    ``undefined``); ``scale``/``offset``: physical value = sample x scale + offset
    (None: not known, nothing written); ``tags``: band-level metadata items.
    """

    description: str
    colorinterp: str = "undefined"
    scale: float | None = None
    offset: float = 0.0
    tags: Mapping[str, str] = field(default_factory=dict)


def write_cog(
    path: Path,
    pixels: np.ndarray,
    *,
    transform,
    epsg: int,
    nodata: int | None,
    bands: Sequence[BandMeta],
    tags: Mapping[str, str],
    resampling: str = "AVERAGE",
    mask: np.ndarray | None = None,
) -> None:
    """Write ``pixels`` ``[bands, rows, cols]`` as a COG at ``path`` (atomically).

    ``resampling`` builds the overviews (``AVERAGE`` for samples, ``NEAREST`` for
    classes). ``mask`` (``[rows, cols]`` bool, True = valid) is written as the
    file's internal mask band, for a raster whose bands have no common no-data value.
    """
    import rasterio
    from rasterio.crs import CRS
    from rasterio.enums import ColorInterp
    from rasterio.io import MemoryFile
    from rasterio.shutil import copy as copy_dataset

    if pixels.ndim != 3 or len(bands) != pixels.shape[0]:
        raise InputError(
            f"{path.name}: {len(bands)} band descriptions for pixels of shape {pixels.shape}"
        )
    count, rows, cols = pixels.shape
    profile = {
        "driver": "GTiff",
        "width": cols,
        "height": rows,
        "count": count,
        "dtype": pixels.dtype,
        "crs": CRS.from_epsg(epsg),
        "transform": transform,
        "nodata": nodata,
    }
    tmp = path.with_name(path.name + ".part")
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), MemoryFile() as mem:
        with mem.open(**profile) as ds:
            ds.write(pixels)
            ds.descriptions = tuple(b.description for b in bands)
            ds.colorinterp = [
                ColorInterp[b.colorinterp]
                if b.colorinterp in ColorInterp.__members__
                else ColorInterp.undefined
                for b in bands
            ]
            if any(b.scale is not None for b in bands):
                ds.scales = [1.0 if b.scale is None else b.scale for b in bands]
                ds.offsets = [b.offset for b in bands]
            ds.update_tags(**{k: str(v) for k, v in tags.items()})
            for i, b in enumerate(bands, start=1):
                if b.tags:
                    ds.update_tags(i, **{k: str(v) for k, v in b.tags.items()})
            if mask is not None:
                ds.write_mask(np.where(mask, 255, 0).astype(np.uint8))
        with mem.open() as src:
            copy_dataset(
                src,
                tmp,
                driver="COG",
                BLOCKSIZE=str(block_size(rows, cols)),
                COMPRESS=COMPRESS,
                LEVEL=str(DEFLATE_LEVEL),
                PREDICTOR="STANDARD",  # TIFF predictor 2
                OVERVIEWS="AUTO",
                RESAMPLING=resampling,
                BIGTIFF="IF_SAFER",
            )
    os.replace(tmp, path)
