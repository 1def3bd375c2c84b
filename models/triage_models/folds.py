"""The leave-ports-out folds over the ten ports, the cloud images and the coastal chips.

Ports are grouped by ship count (243 vessels: 54, 48, 47, 49, 45 per fold); every
cloud image is held out with exactly one fold (the four Sentinel-2 ones in four
different folds), and so is each coastal chip. A fold's model is trained on
everything outside the fold and scores only the fold's frames; the decision policy
applied to a fold is chosen on the other folds' outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from triage_models import sources


@dataclass(frozen=True)
class Fold:
    ports: tuple[str, ...]
    clouds: tuple[str, ...]  # cloud-image frame names (``TileDataset.names``)
    coastal: tuple[str, ...]  # coastal chip names (``sources.COASTAL_CHIPS``)

    @property
    def frames(self) -> tuple[str, ...]:
        return self.ports + self.clouds


FOLDS: tuple[Fold, ...] = (
    Fold(("busan",), ("oncloudn_chip_1",), ()),
    Fold(("athens",), ("oncloudn_chip_2", "38cloud"), ()),
    Fold(("algiers", "gdynia"), ("oncloudn_chip_3",), ("accra",)),
    Fold(("cartagena", "hedland", "honolulu"), ("ukis_sentinel2", "ukis_landsat5"), ()),
    Fold(("casablanca", "marseille", "valencia"), ("ukis_landsat7",), ("limassol",)),
)


def check_folds(
    names: list[str], folds: tuple[Fold, ...] = FOLDS, coastal: tuple[str, ...] | None = None
) -> None:
    """Every frame of the dataset in exactly one fold, every coastal chip (``coastal``,
    :data:`sources.COASTAL_CHIPS` by default) in one fold."""
    coastal = sources.COASTAL_CHIPS if coastal is None else coastal
    seen = [n for f in folds for n in f.frames]
    if sorted(seen) != sorted(names):
        missing = sorted(set(names) - set(seen))
        extra = sorted(set(seen) - set(names))
        dup = sorted({n for n in seen if seen.count(n) > 1})
        raise ValueError(
            f"folds do not partition the frames: missing {missing}, unknown {extra}, twice {dup}"
        )
    chips = [c for f in folds for c in f.coastal]
    if sorted(chips) != sorted(coastal):
        raise ValueError(f"folds must hold each coastal chip once, got {chips}")


def fold_of_frame(name: str, folds: tuple[Fold, ...] = FOLDS) -> int:
    for k, f in enumerate(folds):
        if name in f.frames or name in f.coastal:
            return k
    raise KeyError(f"{name!r} is in no fold")
