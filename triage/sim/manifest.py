"""The orbital image set: a manifest (JSON) of frames, orbit, ground stations and link.

A manifest says what the satellite captures and when, and what it can send down:

- ``frames``: one entry per camera frame. A frame is a pixel window of a
  georeferenced scene whose bands are GeoTIFFs (``bands`` maps every band the
  on-board model reads, by the names of ``models/tile_spec.json``, to a file and
  a 1-based band index in it); ``capture_time_utc`` places it on the ground
  track; ``labels`` (optional) point to the ships' ground truth (COCO boxes in
  the scene's pixel grid), used only for scoring.
  ``sources`` names the real imagery in the frame and ``model`` the classifier for it
  (:mod:`triage.sim.classifiers`: in- or out-of-sample); ``cloud_fraction`` the laid
  cloud cover (truth).
- ``scenario``: what the frames are made of (``ports``, ``maritime``, ``clouds``:
  :mod:`triage.sim.scenarios`); with no frames listed the simulator builds them.
- ``orbit``: a two-line element set (the simulator and the ground station
  compute contact windows from it), or an explicit list of passes; ``satellites``
  copies of the satellite in its plane (:mod:`triage.sim.constellation`).
- ``stations``: ground stations (position, elevation mask).
- ``link``: downlink rate (and, for the physical channel, its link budget);
  ``packet_loss``: a seeded loss model, or ``link_budget``: bit errors from the link
  budget along each pass through the real Reed-Solomon decoder
  (:mod:`triage.sim.channel`).
- ``onboard``: the store's size and decision thresholds replacing the classifier's;
  ``model_update``: a better model uplinked mid-mission (:mod:`triage.sim.model_update`).
- ``window_start_utc`` / ``window_end_utc``: the simulated span.

Paths are absolute, relative to the manifest's folder, or start with ``data:``
to be read from the imagery folder (:func:`triage.paths.data_dir`), so that a
manifest of the real set works on any checkout.

Validation has two levels: :func:`load_manifest` checks the schema and the
internal consistency (ids unique, times inside the window, band names known,
windows non-empty); :func:`triage.sim.frames.check_frames` then opens every
GeoTIFF header (existence, grid, data type, CRS) before anything is written.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from triage import paths
from triage.contract.records import MAX_FRAME_ID
from triage.contract.tile_spec import tile_spec
from triage.sim.errors import ManifestError

MANIFEST_FORMAT = "orbital-image-set"
MANIFEST_VERSION = 1
DATA_PREFIX = "data:"
MAX_FRAME_ID = MAX_FRAME_ID  # the ids above are the directories' (one per boot)
MAX_FRAME_SIDE_PX = 0xFFFF  # u16 rows/cols in FRAME_META


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("time needs a UTC offset (e.g. 2024-06-01T10:30:00Z)")
    return value.astimezone(UTC)


UtcTime = Annotated[datetime, AfterValidator(_aware_utc)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BandSource(_Strict):
    """Where one band of a frame comes from."""

    path: str = Field(min_length=1, description="GeoTIFF path (absolute, relative, or data:)")
    band_index: int = Field(default=1, ge=1, description="1-based band in the file")


class PixelWindow(_Strict):
    """A frame's pixel window in its source scene's grid."""

    row0: int = Field(ge=0)
    col0: int = Field(ge=0)
    rows: int = Field(gt=0, le=MAX_FRAME_SIDE_PX)
    cols: int = Field(gt=0, le=MAX_FRAME_SIDE_PX)


class Labels(_Strict):
    """Ship ground truth: COCO boxes in the scene's pixel grid (one category)."""

    format: Literal["coco"] = "coco"
    path: str = Field(min_length=1)


class Frame(_Strict):
    frame_id: int = Field(ge=0, le=MAX_FRAME_ID)
    scene: str = Field(min_length=1, description="scene name; frames of one scene share a grid")
    bands: dict[str, BandSource] = Field(min_length=1)
    window: PixelWindow
    capture_time_utc: UtcTime
    gain_source: str | None = Field(
        default=None, description="gain_q8 entry of tile_spec.json (None: the default source)"
    )
    nodata: int = Field(default=0, ge=0, le=0xFFFF)
    dn_scale: tuple[int, int] | None = Field(
        default=None,
        description=(
            "(num, den): every sample is round(d * num / den) of the instrument's own number d "
            "(sen2ships: (65535, 10000), reflectance x 10000 exported as x 65535); the "
            "firmware and the compressed baseline then code d, losslessly (checked)"
        ),
    )
    labels: Labels | None = None
    attribution: str | None = Field(default=None, description="imagery credit to show")
    sources: list[str] | None = Field(
        default=None,
        description=(
            "data source ids of the real imagery whose pixels the frame holds "
            "(sen2ships/<port>, coastal/<chip>, clouds/<set>[/<image>]; [] for synthetic "
            "pixels); None: the folders of its data: band paths (see triage.sim.classifiers)"
        ),
    )
    model: str | None = Field(
        default=None,
        description="classifier for this frame (models/classifiers.json); None: chosen per "
        "frame by the run's --model rule (out-of-sample where a classifier allows)",
    )
    cloud_fraction: float | None = Field(
        default=None, ge=0.0, le=1.0, description="share of the frame under laid cloud (truth)"
    )

    @model_validator(mode="after")
    def _dn_scale(self) -> Frame:
        if self.dn_scale is not None and not 1 <= self.dn_scale[1] <= self.dn_scale[0] <= 0xFFFF:
            raise ValueError(
                f"frame {self.frame_id}: dn_scale {list(self.dn_scale)} needs "
                "1 <= den <= num <= 65535"
            )
        return self


class Tle(_Strict):
    name: str = "SAT"
    line1: str = Field(min_length=69, max_length=69)
    line2: str = Field(min_length=69, max_length=69)

    @property
    def text(self) -> str:
        return f"{self.name}\n{self.line1}\n{self.line2}\n"


class Station(_Strict):
    name: str = Field(min_length=1)
    latitude_deg: float = Field(ge=-90.0, le=90.0)
    longitude_deg: float = Field(ge=-180.0, le=180.0)
    altitude_m: float = Field(default=0.0, ge=-500.0, le=9000.0)
    min_elevation_deg: float = Field(default=10.0, ge=0.0, lt=90.0)


class ExplicitPass(_Strict):
    station: str
    start_utc: UtcTime
    end_utc: UtcTime

    @model_validator(mode="after")
    def _ordered(self) -> ExplicitPass:
        if self.end_utc <= self.start_utc:
            raise ValueError(f"pass at {self.station}: end_utc is not after start_utc")
        return self


class Orbit(_Strict):
    """Exactly one of ``tle`` (contact windows computed) or ``passes`` (given)."""

    tle: Tle | None = None
    passes: list[ExplicitPass] | None = None
    satellites: int = Field(
        default=1,
        ge=1,
        le=16,
        description="satellites equally spaced in mean anomaly in the TLE's plane, each with "
        "its own store and ground link (triage.sim.constellation)",
    )

    @model_validator(mode="after")
    def _one(self) -> Orbit:
        if (self.tle is None) == (self.passes is None):
            raise ValueError("give exactly one of orbit.tle and orbit.passes")
        if self.satellites > 1 and self.tle is None:
            raise ValueError("orbit.satellites > 1 needs orbit.tle (contact windows computed)")
        return self


class LinkBudget(_Strict):
    """The downlink's budget for the physical channel (``packet_loss.model =
    "link_budget"``): coherent BPSK, Reed-Solomon (255,223) only; Eb/N0 per channel bit
    is ``eirp_dbw + g_over_t_db_k - FSPL(range, frequency) - losses_db + 228.6 -
    10 log10(rate_bps)`` (:mod:`triage.sim.channel`)."""

    frequency_hz: float = Field(gt=1e6, le=1e12, description="carrier frequency, Hz")
    eirp_dbw: float = Field(ge=-60.0, le=80.0, description="satellite EIRP, dBW")
    g_over_t_db_k: float = Field(
        ge=-60.0, le=60.0, description="ground receiver figure of merit G/T, dB/K"
    )
    losses_db: float = Field(
        default=0.0,
        ge=0.0,
        le=100.0,
        description="other losses: atmosphere, polarisation, pointing, implementation (dB)",
    )
    modulation: Literal["bpsk"] = "bpsk"


class Link(_Strict):
    name: str = "downlink"
    rate_bps: int = Field(gt=0, le=10_000_000_000, description="downlink channel rate, bit/s")
    uplink_reliable: bool = Field(
        default=True,
        description="the DOWNLINK_REQUEST telecommand always arrives (uplinks are short, "
        "low-rate and acknowledged); false: it is lost with the downlink's loss model, and "
        "the satellite then sends its store in priority order",
    )
    budget: LinkBudget | None = None


class PacketLoss(_Strict):
    """Packet loss on the downlink.

    ``none``; ``bernoulli`` (each packet lost with ``loss_probability``);
    ``gilbert_elliott``: a two-state Markov chain stepped once per packet, good to
    bad with ``p_good_to_bad``, bad to good with ``p_bad_to_good``, losing a packet
    with ``loss_in_good`` or ``loss_in_bad`` (bursty fades); or ``link_budget``: no
    packet draw but bit errors in the CADUs from ``link.budget`` along each pass,
    decoded by the ground's receiver (:mod:`triage.sim.channel`; needs ``orbit.tle``
    and a reliable uplink). Seeded.
    """

    model: Literal["none", "bernoulli", "gilbert_elliott", "link_budget"] = "none"
    loss_probability: float = Field(default=0.0, ge=0.0, le=1.0)
    p_good_to_bad: float = Field(default=0.0, ge=0.0, le=1.0)
    p_bad_to_good: float = Field(default=1.0, ge=0.0, le=1.0)
    loss_in_good: float = Field(default=0.0, ge=0.0, le=1.0)
    loss_in_bad: float = Field(default=1.0, ge=0.0, le=1.0)
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _sane(self) -> PacketLoss:
        if self.model == "gilbert_elliott" and self.p_bad_to_good == 0.0:
            raise ValueError("gilbert_elliott: p_bad_to_good 0 would never leave the bad state")
        return self


class PolicyThresholds(_Strict):
    """Decision thresholds (probabilities, as in policy.json) that replace the classifier's:
    ``ship_crop_min_prob`` (crop when the ship output reaches it) and ``discard_min_prob``
    by class name (discard a tile whose top class reaches it; null: never). Unset ones keep
    the classifier's; the second-opinion threshold and the crop margin are the firmware
    build's."""

    ship_crop_min_prob: float | None = Field(default=None, ge=0.0, le=1.0)
    discard_min_prob: dict[str, float | None] = Field(default_factory=dict)

    @field_validator("discard_min_prob")
    @classmethod
    def _classes(cls, v: dict[str, float | None]) -> dict[str, float | None]:
        known = list(tile_spec().classes)
        for name, p in v.items():
            if name not in known:
                raise ValueError(f"discard_min_prob: unknown class {name!r} (known: {known})")
            if p is not None and not 0.0 <= p <= 1.0:
                raise ValueError(f"discard_min_prob[{name!r}] = {p} is not a probability")
        return v

    def is_empty(self) -> bool:
        return self.ship_crop_min_prob is None and not self.discard_min_prob


class ModelUpdate(_Strict):
    """A better model uplinked mid-mission (issue 19; :mod:`triage.sim.model_update`).

    The satellite flies ``launch_model`` (a classifier of the registry, as its factory
    package, or the compiled-in model for ``shipped``); in pass ``pass_index`` (0-based, in
    time order) the ground seals ``package`` (made by ``triage model package``) with the key
    of ``key_file`` and sequence number ``seq`` and sends it as MODEL_UPLOAD telecommands at
    ``uplink_rate_bps`` (``groundstation uplink model``); the satellite, provisioned with
    ``satellite_key_file`` (default: the same key), verifies, stages, self-tests and switches
    to it on trial; with ``commit`` the ground commits it in the next pass. Each model
    decides with the policy its package carries. ``half_duplex``: the uplink's seconds are
    taken from that pass's downlink (default: full duplex, separate uplink and downlink
    carriers). ``tamper_byte``: a fault drill, the low bit of this byte of the upload (its
    sealed unit) flipped on the air; the satellite must refuse it and keep the launch
    model."""

    launch_model: str = Field(min_length=1, description="registry classifier flown at launch")
    package: str = Field(min_length=1, description="model package to uplink")
    key_file: str = Field(min_length=1, description="the ground's uplink key file")
    satellite_key_file: str | None = Field(
        default=None, description="the key provisioned on board (default: key_file's)"
    )
    seq: int = Field(default=1, ge=1, le=0xFFFFFFFF, description="anti-replay sequence number")
    pass_index: int = Field(ge=0, description="the pass whose uplink carries the package")
    uplink_rate_bps: float = Field(default=9600.0, gt=0.0, le=1e7)
    half_duplex: bool = False
    commit: bool = True
    tamper_byte: int | None = Field(default=None, ge=0)


class Onboard(_Strict):
    """On-board settings the simulator passes to the firmware."""

    store_capacity_bytes: int | None = Field(
        default=None, gt=0, description="product store size (None: the firmware's default)"
    )
    policy: PolicyThresholds | None = Field(
        default=None, description="decision thresholds replacing the classifier's"
    )
    model_update: ModelUpdate | None = Field(
        default=None, description="a model uplinked mid-mission (triage.sim.model_update)"
    )


class CloudSpec(_Strict):
    """Real cloud laid over every frame (:mod:`triage.sim.scenarios`).

    Each frame's cloud fraction is drawn from Beta(mean x concentration,
    (1 - mean) x concentration): concentration 1 gives the U-shaped distribution of
    real scene cloud cover (mostly clear or mostly overcast, mean ``mean``); a large
    concentration gives nearly ``mean`` everywhere. Cloud tops lie at a height drawn
    uniformly from ``cloud_top_m``; shadows fall away from the Sun at that height.
    """

    mean: float = Field(default=0.67, ge=0.0, le=1.0, description="mean cloud fraction")
    concentration: float = Field(default=1.0, gt=0.0, le=1000.0)
    cloud_top_m: tuple[float, float] = Field(default=(1000.0, 3000.0))
    seed: int = Field(default=0, ge=0)
    sources: list[str] | None = Field(
        default=None,
        description="cloud images to use (clouds/oncloudn/chip_1, ...); None: every one, "
        "per frame those its classifier never saw where any",
    )

    @model_validator(mode="after")
    def _heights(self) -> CloudSpec:
        lo, hi = self.cloud_top_m
        if not 0.0 < lo <= hi <= 15000.0:
            raise ValueError(f"cloud_top_m {list(self.cloud_top_m)} needs 0 < low <= high <= 15000")
        return self


class MaritimeSpec(_Strict):
    """Open sea and coast from real pixels, with real vessels pasted in."""

    frames: int = Field(default=8, ge=1, le=500)
    frame_px: int = Field(default=1024, ge=128, le=1024, description="frame side, pixels")
    vessels_per_100km2: float = Field(
        default=1.0, ge=0.0, le=100.0, description="mean vessel density (Poisson per frame)"
    )
    coast_share: float = Field(
        default=0.3, ge=0.0, le=1.0, description="share of frames holding a coast window"
    )
    seed: int = Field(default=0, ge=0)


class Scenario(_Strict):
    """What an image set is made of (:mod:`triage.sim.scenarios`): the real ``ports``, or
    ``maritime`` frames; ``clouds`` over either."""

    kind: Literal["ports", "maritime"] = "ports"
    ports: list[str] | None = Field(
        default=None, description="ports scenario: these ports (None: every port in the data)"
    )
    max_frame_px: int = Field(default=1024, ge=128, le=4096)
    maritime: MaritimeSpec | None = None
    clouds: CloudSpec | None = None
    model: str = Field(
        default="auto",
        description="the classifier choice the donors and cloud images are picked for",
    )

    @model_validator(mode="after")
    def _kind(self) -> Scenario:
        if self.kind == "ports" and self.maritime is not None:
            raise ValueError("scenario.maritime is given but scenario.kind is 'ports'")
        if self.kind == "maritime" and self.ports is not None:
            raise ValueError("scenario.ports is for kind 'ports'")
        return self

    @property
    def maritime_spec(self) -> MaritimeSpec:
        return self.maritime or MaritimeSpec()


class Manifest(_Strict):
    format: Literal["orbital-image-set"] = MANIFEST_FORMAT
    version: Literal[1] = MANIFEST_VERSION
    name: str = Field(min_length=1)
    description: str = ""
    attribution: list[str] = Field(default_factory=list)
    frames: list[Frame]
    scenario: Scenario | None = Field(
        default=None,
        description="what the frames are made of; with no frames, the simulator builds them "
        "(triage.sim.scenarios)",
    )
    orbit: Orbit
    stations: list[Station] = Field(default_factory=list)
    link: Link
    packet_loss: PacketLoss = PacketLoss()
    onboard: Onboard = Onboard()
    window_start_utc: UtcTime
    window_end_utc: UtcTime

    @field_validator("frames")
    @classmethod
    def _unique_ids(cls, frames: list[Frame]) -> list[Frame]:
        seen: set[int] = set()
        for f in frames:
            if f.frame_id in seen:
                raise ValueError(f"frame_id {f.frame_id} appears twice")
            seen.add(f.frame_id)
        return frames

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        if not self.frames and self.scenario is None:
            raise ValueError("frames: at least one frame is needed (or a scenario to build them)")
        if not self.frames and self.orbit.tle is None:
            raise ValueError("a scenario without frames needs orbit.tle (capture times)")
        if self.window_end_utc <= self.window_start_utc:
            raise ValueError("window_end_utc is not after window_start_utc")
        names = [s.name for s in self.stations]
        if len(set(names)) != len(names):
            raise ValueError("station names must be unique")
        if self.orbit.tle is not None and not self.stations:
            raise ValueError("orbit.tle needs at least one ground station in stations")
        if self.orbit.passes is not None:
            for p in self.orbit.passes:
                if self.stations and p.station not in names:
                    raise ValueError(f"pass names unknown station {p.station!r}")
        if self.packet_loss.model == "link_budget":
            if self.link.budget is None:
                raise ValueError("packet_loss.model link_budget needs link.budget")
            if self.orbit.tle is None:
                raise ValueError(
                    "packet_loss.model link_budget needs orbit.tle (the slant range along "
                    "each pass comes from the orbit; explicit passes have none)"
                )
            if not self.link.uplink_reliable:
                raise ValueError(
                    "packet_loss.model link_budget models the downlink only: set "
                    "link.uplink_reliable to true"
                )
        for f in self.frames:
            if not self.window_start_utc <= f.capture_time_utc <= self.window_end_utc:
                raise ValueError(
                    f"frame {f.frame_id} ({f.scene}): capture_time_utc "
                    f"{f.capture_time_utc.isoformat()} is outside the simulated window"
                )
        return self

    def frames_in_capture_order(self) -> list[Frame]:
        return sorted(self.frames, key=lambda f: (f.capture_time_utc, f.frame_id))


def _format_validation_error(source: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors()[:8]:
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - len(lines)
    tail = f" (and {more} more)" if more > 0 else ""
    return f"manifest {source} does not validate: " + "; ".join(lines) + tail


def parse_manifest(data: dict, source: str = "<memory>") -> Manifest:
    """Validate a manifest given as a dict; :class:`ManifestError` names the field at fault."""
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(_format_validation_error(source, exc)) from None


def load_manifest(path: Path) -> Manifest:
    """Read and validate a manifest file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"manifest not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"manifest {path} cannot be read: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(
            f"manifest {path} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(data, dict):
        raise ManifestError(f"manifest {path}: the top level must be a JSON object")
    return parse_manifest(data, str(path))


def dump_manifest(manifest: Manifest, path: Path) -> None:
    """Write a manifest as indented JSON (times in ISO 8601 with Z)."""
    text = manifest.model_dump_json(indent=1, exclude_none=True)
    Path(path).write_text(text + "\n", encoding="utf-8")


def resolve_path(raw: str, manifest_dir: Path, data_dir: Path | None = None) -> Path:
    """A manifest path as a filesystem path (see the module docstring)."""
    if raw.startswith(DATA_PREFIX):
        if data_dir is None:
            data_dir = paths.data_dir()
        return data_dir / raw[len(DATA_PREFIX) :]
    p = Path(raw).expanduser()
    return p if p.is_absolute() else manifest_dir / p
