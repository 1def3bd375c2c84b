"""What each band of an exported product is: name, role, wavelength, scale to reflectance.

The band order of every 4-band product is the tile spec's (``models/tile_spec.json``:
``B02 blue``, ``B03 green``, ``B04 red``, ``B08 nir``); the wire format carries no
band names, so a product with another band count gets no roles (:func:`band_roles`).

The samples are the firmware's canonical scale divided by the tile spec's gain:
``canonical = sample * gain_q8 / 256`` is reflectance x 65535, so the scale from a
sample to reflectance is ``gain_q8 / 256 / 65535`` per band
(:func:`reflectance_scales`; the gains are those of the tile spec's default source,
the ones the firmware is built with). A product coded as instrument numbers
(``dn_num``/``dn_den`` in its header) is restored to those samples at decode; the
instrument's own scale is then ``dn_num / dn_den`` samples per number
(:func:`dn_scale_tags`).

The wavelengths are Sentinel-2 MSI's (the mission's imagery): the centre and width of
each band's spectral response (ESA, Sentinel-2 spectral response functions, S2A),
for the STAC ``eo:bands`` of the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

from triage.contract.tile_spec import CANONICAL_MAX, tile_spec

S2_WAVELENGTHS_UM: dict[str, tuple[float, float]] = {
    "B02": (0.4924, 0.066),
    "B03": (0.5598, 0.036),
    "B04": (0.6646, 0.031),
    "B08": (0.8328, 0.106),
}
"""Sentinel-2A MSI: (central wavelength, full width at half maximum) in micrometres."""

EO_COMMON_NAMES = {"blue", "green", "red", "nir"}
"""The tile spec's band names that are also STAC eo common names (and GDAL colour
interpretations)."""


@dataclass(frozen=True)
class BandRole:
    """One band of a written file: its index in the file (1-based, as GDAL counts), the
    instrument's band (``B02``) and its role (``blue``); both None when a product's band
    count is not the tile spec's, since the wire format then says nothing of which band
    is which."""

    index: int
    band: str | None
    role: str | None

    def __str__(self) -> str:
        return f"{self.band} {self.role}" if self.band is not None else f"band {self.index}"

    def to_json(self) -> dict:
        return {"index": self.index, "band": self.band, "role": self.role}

    @property
    def colorinterp(self) -> str:
        """GDAL's colour interpretation of the band (``red``, ``nir``; else ``undefined``)."""
        return self.role if self.role in EO_COMMON_NAMES else "undefined"

    @property
    def wavelength_um(self) -> tuple[float, float] | None:
        """(centre, FWHM) in micrometres, when the band is a known Sentinel-2 band."""
        return S2_WAVELENGTHS_UM.get(self.band) if self.band else None


def band_roles(n_bands: int) -> tuple[BandRole, ...]:
    """The roles of a product's ``n_bands`` bands, in frame-memory order (tile_spec.json)."""
    spec = tile_spec().bands
    if n_bands == len(spec):
        return tuple(BandRole(i + 1, b.sentinel2, b.name) for i, b in enumerate(spec))
    return tuple(BandRole(i + 1, None, None) for i in range(n_bands))


def reflectance_scales(n_bands: int) -> tuple[float, ...] | None:
    """Per band, reflectance per sample unit (``gain_q8 / 256 / 65535``); None when the
    band count is not the tile spec's (no gain is known for such a product)."""
    spec = tile_spec()
    if n_bands != spec.n_bands:
        return None
    return tuple(int(g) / 256.0 / CANONICAL_MAX for g in spec.gains())


def dn_scale_tags(header: dict) -> dict[str, str]:
    """Metadata items for a product coded as instrument numbers (empty otherwise): the
    lattice ``v = floor((d * DN_NUM + floor(DN_DEN / 2)) / DN_DEN)`` of its samples."""
    num, den = header.get("dn_num", 0), header.get("dn_den", 0)
    if not num or not den:
        return {}
    return {
        "DN_NUM": str(num),
        "DN_DEN": str(den),
        "DN_SCALE": (
            f"samples v = floor((d * {num} + {den // 2}) / {den}) of the instrument's numbers d"
        ),
    }
