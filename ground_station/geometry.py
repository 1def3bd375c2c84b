"""Footprints: pixel rectangles of a frame in its CRS and in WGS84 longitude/latitude.

Rings are closed (first point repeated) and counter-clockwise (x east, y north), the
orientation RFC 7946 asks of exterior rings. Reprojection is PROJ's, through GDAL
(:func:`rasterio.warp.transform`), in longitude, latitude order.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from ground_station.errors import InputError

COORD_DECIMALS = 7
"""Decimals of the WGS84 coordinates written (1e-7 degree: about a centimetre)."""


def signed_area(ring: Sequence[tuple[float, float]]) -> float:
    """Shoelace area of a closed ring: positive when counter-clockwise (x east, y north)."""
    return 0.5 * sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))


def ccw(ring: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The closed ring, counter-clockwise."""
    return ring if signed_area(ring) > 0 else ring[::-1]


def to_lonlat(epsg: int, xs: Sequence[float], ys: Sequence[float]) -> tuple[list, list]:
    """Coordinates in EPSG:``epsg`` to WGS84 longitudes and latitudes (PROJ, through GDAL)."""
    from rasterio.crs import CRS
    from rasterio.warp import transform

    if epsg == 4326:
        return list(xs), list(ys)
    lon, lat = transform(CRS.from_epsg(epsg), CRS.from_epsg(4326), list(xs), list(ys))
    return list(lon), list(lat)


def pixel_ring(frame_tf, r0: float, c0: float, rows: float, cols: float, per_edge: int = 1):
    """The closed ring of a pixel rectangle of the frame, in the frame's CRS (each edge cut
    into ``per_edge`` segments, so that a reprojection follows its curvature)."""
    pts = []
    corners = [(c0, r0), (c0 + cols, r0), (c0 + cols, r0 + rows), (c0, r0 + rows)]
    for k in range(4):
        (ca, ra), (cb, rb) = corners[k], corners[(k + 1) % 4]
        for s in range(per_edge):
            f = s / per_edge
            pts.append(frame_tf @ (ca + (cb - ca) * f, ra + (rb - ra) * f))
    pts.append(pts[0])
    return [(float(x), float(y)) for x, y in pts]


def lonlat_ring(epsg: int, ring: list[tuple[float, float]], what: str):
    """The ring in WGS84, counter-clockwise, rounded; InputError if it crosses 180°."""
    lon, lat = to_lonlat(epsg, [p[0] for p in ring], [p[1] for p in ring])
    if max(lon) - min(lon) > 180.0:
        raise InputError(f"{what} crosses the antimeridian: not representable unsplit")
    d = COORD_DECIMALS
    out = [(round(x, d), round(y, d)) for x, y in zip(lon, lat, strict=True)]
    out[-1] = out[0]
    return ccw(out)
