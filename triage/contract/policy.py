"""The on-board decision policy (``models/shipped/policy.json``), as data.

Probabilities in the JSON are human-readable; the firmware compares int8
softmax outputs, whose quantization is scale 1/256, zero point -128
(``p = (q + 128) / 256``). :func:`prob_to_min_q` converts a probability
threshold ``p`` into the smallest ``q`` with ``(q + 128) / 256 >= p``; a
threshold that can never be reached (or ``null``) becomes ``NEVER_Q`` = 128,
one above the largest int8.

Decision order for one cell (:func:`decide`; the firmware's ``tri_decide`` does
the same, and a test holds the two together on every output vector it covers):

0. the cell's class (:func:`called_class`): cloud when its cloud output reaches
   ``cloud_call_min_q`` (a calibrated threshold, below the top-1 rule's one half,
   chosen on held-out cloud images), else the top class (first index on ties);
1. ship output ``q_ship >= ship_crop_min_q``: crop at full resolution,
   whatever the class;
2. else, class ``c`` with ``q_c >= discard_min_q[c]``: discard (counted);
3. else, class land: ``land_policy`` (drop or low-resolution product);
4. else keep as a low-resolution product.

Actions are the codes of :class:`triage.contract.enums.Action`.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from triage.contract import paths
from triage.contract.enums import Action, LandPolicy
from triage.contract.errors import SpecError
from triage.contract.tile_spec import TileSpec, tile_spec

NEVER_Q = 128
"""A threshold above any int8 output: never reached."""
LAND_POLICIES = {p.label: int(p) for p in LandPolicy}


class Policy(BaseModel):
    """The validated content of ``policy.json``."""

    model_config = ConfigDict(extra="allow")
    provisional: bool = False
    discard_min_prob: dict[str, float | None]
    ship_crop_min_prob: float = Field(ge=0.0, le=1.0)
    land_policy: str
    crop_margin_px: int = Field(default=0, ge=0, le=255)
    cloud_call_min_prob: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="a cell whose cloud output reaches this is called cloud whatever its "
        "top class; None: the top class",
    )

    @model_validator(mode="after")
    def _check(self) -> Policy:
        if self.land_policy not in LAND_POLICIES:
            raise ValueError(f"land_policy must be one of {sorted(LAND_POLICIES)}")
        for name, p in self.discard_min_prob.items():
            if p is not None and not 0.0 <= p <= 1.0:
                raise ValueError(f"discard_min_prob[{name!r}] = {p} is not a probability")
        return self

    def discard_min_q(self, spec: TileSpec | None = None) -> list[int]:
        """Per-class discard threshold in the int8 output domain (``NEVER_Q`` = never)."""
        spec = spec or tile_spec()
        unknown = set(self.discard_min_prob) - set(spec.classes)
        if unknown:
            raise SpecError(f"policy names unknown classes {sorted(unknown)}")
        return [prob_to_min_q(self.discard_min_prob.get(c), spec) for c in spec.classes]

    def check_margin(self, spec: TileSpec | None = None) -> int:
        """``crop_margin_px``, checked against the tile spec: a cropped cell keeps its pixels
        widened by the margin, at most one cell."""
        spec = spec or tile_spec()
        if self.crop_margin_px > spec.cell_px:
            raise SpecError(
                f"policy crop_margin_px {self.crop_margin_px} is over one cell ({spec.cell_px})"
            )
        return self.crop_margin_px

    @property
    def ship_crop_min_q(self) -> int:
        return prob_to_min_q(self.ship_crop_min_prob)

    @property
    def cloud_call_min_q(self) -> int:
        """``cloud_call_min_prob`` in the int8 output domain (``NEVER_Q``: the top class)."""
        return prob_to_min_q(self.cloud_call_min_prob)

    @property
    def land_policy_id(self) -> int:
        return LAND_POLICIES[self.land_policy]


def prob_to_min_q(p: float | None, spec: TileSpec | None = None) -> int:
    """Smallest int8 ``q`` whose probability under the output quantisation of the tile spec
    (``p = (q - zero_point) * scale``: ``(q + 128) / 256``) reaches ``p``; ``NEVER_Q`` when
    unreachable."""
    if p is None:
        return NEVER_Q
    oq = (spec or tile_spec()).output_quantization
    q = math.ceil(Fraction(p) * oq.scale_den / oq.scale_num) + oq.zero_point
    return max(-128, min(q, NEVER_Q))


def load_policy(path: Path | None = None) -> Policy:
    path = path or paths.policy_path()
    try:
        return Policy.model_validate(json.loads(Path(path).read_text()))
    except FileNotFoundError as exc:
        raise SpecError(f"policy not found: {path}") from exc
    except (json.JSONDecodeError, ValidationError) as exc:
        raise SpecError(f"{path}: {exc}") from exc


def called_class(q_out: np.ndarray, policy: Policy, spec: TileSpec | None = None) -> np.ndarray:
    """The class of each cell (int64 ``[N]``) for int8 outputs ``[N, n_classes]``: cloud where
    the cloud output reaches ``policy.cloud_call_min_q``, else the top class (first index on
    ties). The firmware's ``tri_decide`` reports the same class."""
    spec = spec or tile_spec()
    q = np.asarray(q_out).astype(np.int32)
    top = np.argmax(q, axis=1)
    cq = policy.cloud_call_min_q
    if cq < NEVER_Q:
        cloud = spec.class_id("cloud")
        top = np.where(q[:, cloud] >= cq, cloud, top)
    return top


def decide(q_out: np.ndarray, policy: Policy, spec: TileSpec | None = None) -> np.ndarray:
    """Actions (:class:`Action` codes, int8) for int8 outputs ``[N, n_classes]``."""
    spec = spec or tile_spec()
    q = np.asarray(q_out).astype(np.int32)
    ship = spec.class_id("ship")
    land = spec.class_id("land")
    top = called_class(q, policy, spec)
    qtop = q[np.arange(len(q)), top]
    dmin = np.asarray(policy.discard_min_q(spec), dtype=np.int32)
    action = np.full(len(q), Action.LOWRES, dtype=np.int8)
    land_action = Action.LAND_DROP if policy.land_policy_id == LandPolicy.DROP else Action.LOWRES
    action[top == land] = land_action
    action[qtop >= dmin[top]] = Action.DISCARD
    action[q[:, ship] >= policy.ship_crop_min_q] = Action.CROP
    return action
