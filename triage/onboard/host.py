"""The host build of the on-board application, driven from Python.

One :class:`Onboard` is one satellite's application: its product store
persists across frames, exactly as on the Cortex-M4 (same C sources; the
QEMU runner in :mod:`triage.onboard.qemu_runner` produces the same bytes).
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from triage.contract.enums import LandPolicy
from triage.contract.frames import DEFAULT_SPACECRAFT_ID, LinkMode
from triage.contract.packets import encode_request, request_entry
from triage.contract.policy import NEVER_Q
from triage.contract.tile_spec import tile_spec
from triage.onboard import _lib
from triage.onboard.errors import FirmwareError, OnboardError, OnboardInputError
from triage.onboard.meta import FrameMeta

DEFAULT_STORE_BYTES = 7 * 1024 * 1024
"""Store size of the Cortex-M4 image (what fits in its 16 MB PSRAM beside
8 MB of frame memory); the default here, so that host and QEMU agree."""

CLASSIFIERS = {"none": 0, "model": 1, "rule": 2}
"""``model``: the shipped classifier through the engine (needs a model in the
build); ``rule``: a fixed test rule on the preprocessed input (tests only,
see mcu_firmware/ports/host/app_host.c); ``none``: frames are refused."""


def _names(fn) -> list[str]:
    out = []
    while (name := fn(len(out))) is not None:
        out.append(name.decode())
    return out


@cache
def report_classes() -> tuple[str, ...]:
    """The class names the report's per-class counts are indexed by (the model's class list,
    ``models/tile_spec.json``), checked against the class count the library was built for."""
    classes = tuple(tile_spec().classes)
    built = config()["num_classes"]
    if built != len(classes):
        raise FirmwareError(
            f"the host library counts {built} classes, the tile spec names {len(classes)}: "
            "rebuild the firmware (make firmware) after exporting the model"
        )
    return classes


@cache
def _report_fields() -> tuple[str, ...]:
    """Names of the report's words, from the host library (tri_frame_report_field). Word k of
    a per-class field ``<x>_by_class`` is named ``<x>_<class k>`` (e.g. ``tiles_cloud``,
    ``discarded_land``) from :func:`report_classes`."""
    classes = report_classes()
    names: list[str] = []
    while (field := _lib.report_field(len(names))) is not None:
        name, class_id = field
        if class_id >= 0:
            name = f"{name.removesuffix('_by_class')}_{classes[class_id]}"
        names.append(name)
    return tuple(names)


@cache
def _counter_fields() -> tuple[str, ...]:
    lib = _lib.load()
    lib.tri_onboard_counter_field.restype = ctypes.c_char_p
    lib.tri_onboard_counter_field.argtypes = [ctypes.c_uint32]
    return tuple(_names(lib.tri_onboard_counter_field))


@cache
def config() -> dict[str, int]:
    """The application's constants as compiled (tile sizes, AEC parameters, margins...)."""
    lib = _lib.load()
    lib.tri_host_config_name.restype = ctypes.c_char_p
    lib.tri_host_config_name.argtypes = [ctypes.c_uint32]
    lib.tri_host_config_value.restype = ctypes.c_uint32
    lib.tri_host_config_value.argtypes = [ctypes.c_uint32]
    names = _names(lib.tri_host_config_name)
    return {n: int(lib.tri_host_config_value(i)) for i, n in enumerate(names)}


def has_model() -> bool:
    """Whether the host build holds a classifier model."""
    return bool(_lib.load().tri_host_has_model())


def model_sha256() -> str:
    """SHA-256 of the ``.tflite`` the compiled-in model was exported from ("" if none)."""
    return _lib.load().tri_host_model_sha256().decode()


def _land_policy_code(land_policy: str) -> int:
    labels = {p.label: int(p) for p in LandPolicy}
    if land_policy not in labels:
        raise OnboardInputError(f"land_policy must be one of {sorted(labels)}")
    return labels[land_policy]


def decide(
    q: np.ndarray,
    land_policy: str,
    discard_min_q: Sequence[int] | None = None,
    ship_crop_min_q: int = 0,
    cloud_call_min_q: int = NEVER_Q,
) -> tuple[np.ndarray, np.ndarray]:
    """The firmware's decision policy (tri_decide) on final int8 outputs ``[N, classes]``:
    ``(actions, tops)``, actions as :class:`~triage.contract.enums.Action` codes, tops the
    cells' classes.

    ``discard_min_q`` (one threshold per class), ``ship_crop_min_q`` and ``cloud_call_min_q``
    are the policy's thresholds in the int8 output domain; ``discard_min_q`` ``None`` takes
    the policy compiled into the library
    (models/shipped/triage_config.h). ``land_policy``: a :class:`LandPolicy` label (``drop``,
    ``lowres``).
    """
    code = _land_policy_code(land_policy)
    n_classes = config()["num_classes"]
    a = np.ascontiguousarray(q, dtype=np.int8)
    if a.ndim != 2 or a.shape[1] != n_classes:
        raise OnboardInputError(f"outputs must be [N, {n_classes}], got shape {a.shape}")
    dmin = None
    if discard_min_q is not None:
        dmin = np.ascontiguousarray(discard_min_q, dtype=np.int16)
        if dmin.shape != (n_classes,):
            raise OnboardInputError(f"discard_min_q needs {n_classes} thresholds")
    actions = np.zeros(len(a), np.uint8)
    tops = np.zeros(len(a), np.uint8)
    st = _lib.load().tri_host_decide(
        a.ctypes.data if len(a) else None,
        len(a),
        None if dmin is None else dmin.ctypes.data,
        int(ship_crop_min_q),
        int(cloud_call_min_q),
        code,
        actions.ctypes.data,
        tops.ctypes.data,
    )
    _lib.check(st, "tri_host_decide")
    return actions, tops


@dataclass
class FrameReport:
    """What happened to one frame.

    ``status`` is the firmware's tri_status_t (0 ok; negative: refused, see
    ``status_name``); ``counts`` holds every report field (tiles by class,
    discards by class, ship regions, products added/dropped/evicted, store
    use...); ``classes``, ``confidences`` (int8 output + 128) and ``actions``
    (:class:`triage.contract.enums.Action` codes) are ``[grid_rows, grid_cols]`` tile grids
    (empty when the frame was refused).
    """

    status: int
    status_name: str
    frame_id: int
    counts: dict[str, int]
    classes: np.ndarray
    confidences: np.ndarray
    actions: np.ndarray
    record: bytes

    @property
    def ok(self) -> bool:
        return self.status == 0

    def __getitem__(self, name: str) -> int:
        return self.counts[name]

    def by_class(self, prefix: str) -> dict[str, int]:
        """A per-class count, ``"tiles"`` or ``"discarded"``, as ``{class name: count}`` in
        class-id order (the words ``<prefix>_<class>`` of the report)."""
        return {c: self.counts[f"{prefix}_{c}"] for c in report_classes()}

    def raise_for_status(self) -> FrameReport:
        if self.status != 0:
            _lib.check(self.status, f"frame {self.frame_id}")
        return self

    @classmethod
    def from_record(cls, record: bytes) -> FrameReport:
        """Decode the bytes of tri_onboard_frame_record (host or Cortex-M4)."""
        fields = _report_fields()
        nw = 4 * len(fields)
        if len(record) < nw:
            raise OnboardError(f"frame record of {len(record)} bytes, need at least {nw}")
        words = np.frombuffer(record[:nw], dtype=">u4").astype(np.int64)
        counts = dict(zip(fields, (int(v) for v in words), strict=True))
        status = counts["status"] - (1 << 32) if counts["status"] >= 1 << 31 else counts["status"]
        counts["status"] = status
        gr, gc = counts["grid_rows"], counts["grid_cols"]
        n = (len(record) - nw) // 3  # the grid is there when tiles were classified
        if n not in (0, gr * gc) or len(record) != nw + 3 * n:
            raise OnboardError(f"frame record of {len(record)} bytes for a {gr} x {gc} grid")
        grid = np.frombuffer(record[nw:], dtype=np.uint8).reshape(3, -1)
        shape = (gr, gc) if n else (0, 0)
        return cls(
            status=status,
            status_name=_lib.status_name(status),
            frame_id=counts["frame_id"],
            counts=counts,
            classes=grid[0].reshape(shape),
            confidences=grid[1].reshape(shape),
            actions=grid[2].reshape(shape),
            record=bytes(record),
        )


def frame_bytes(frame: np.ndarray) -> bytes | np.ndarray:
    """Frame memory for an array ``[rows, cols, bands]``: little-endian, C order."""
    frame = np.asarray(frame)
    if frame.dtype == np.uint16:
        return np.ascontiguousarray(frame, dtype="<u2")
    if frame.dtype == np.uint8:
        return np.ascontiguousarray(frame)
    raise OnboardInputError(f"frame samples must be uint8 or uint16, got {frame.dtype}")


def request_packet(entries: Sequence, seq_count: int = 0) -> bytes:
    """A DOWNLINK_REQUEST telecommand from entries (the contract's encoder).

    Each entry is a mapping with REQUEST_ENTRY fields, or a tuple
    ``(frame_id, product_id, "send", first, last)`` / ``(frame_id, product_id, "release")``
    / ``(0, 0, "rest")``.
    """
    records = [e if isinstance(e, Mapping) else request_entry(*e) for e in entries]
    return encode_request(records, seq_count)


def link_encode(
    packets: bytes,
    link: str = "cadu",
    spacecraft_id: int = DEFAULT_SPACECRAFT_ID,
    vcid: int = 0,
) -> bytes:
    """The firmware's link layer alone (tri_link.c through the host build) on whole packets
    back to back: their transfer frames (``link="frames"``) or CADUs (``"cadu"``) on virtual
    channel ``vcid``, frame counts from 0, the last frame filled with idle packets."""
    modes = {m.label: int(m) for m in LinkMode if m != LinkMode.PACKETS}
    if link not in modes:
        raise OnboardInputError(f"link must be one of {sorted(modes)}, not {link!r}")
    unit = 1279 if link == "cadu" else 1115
    out = bytearray()
    parts: list[bytes] = []

    def write(_ctx, data, n):
        parts.append(ctypes.string_at(data, n))
        if len(parts) >= 4096:
            out.extend(b"".join(parts))
            parts.clear()
        return 0

    fn = _lib.SINK(write)
    buf = np.frombuffer(packets, dtype=np.uint8)
    st = _lib.load().tri_host_link_encode(
        modes[link],
        int(spacecraft_id),
        int(vcid),
        buf.ctypes.data if len(buf) else None,
        len(buf),
        fn,
        None,
    )
    _lib.check(st, "tri_host_link_encode")
    out.extend(b"".join(parts))
    if len(out) % unit:
        raise OnboardInputError("the link layer wrote a partial frame")
    return bytes(out)


class _Collector:
    """A C sink that appends whatever the firmware writes."""

    def __init__(self) -> None:
        self.buf = bytearray()

        def write(_ctx, data, n):
            self.buf += ctypes.string_at(data, n)
            return 0

        self.fn = _lib.SINK(write)


class Onboard:
    """One on-board application instance (host build); its store persists across frames.

    ``store_bytes`` is the product store's memory (bookkeeping included);
    ``classifier`` one of :data:`CLASSIFIERS`; ``gain_q8`` per-band Q8 gains
    to the canonical scale (default: the model's, from tile_spec.json);
    ``land_policy`` a :class:`LandPolicy` label (default: the shipped policy's).
    ``boot_count``: the platform's boot count, which the directories carry in their
    ``frame_id`` (a new instance after a reset should get the next one).
    ``link``: what :meth:`directory` and :meth:`downlink` return, a
    :class:`~triage.contract.frames.LinkMode` label: ``packets`` (bare space packets, the
    default), ``frames`` (TM transfer frames) or ``cadu`` (CADUs), with ``spacecraft_id``
    in the frames (see :meth:`set_link`).

    >>> ob = Onboard()                              # doctest: +SKIP
    >>> rep = ob.process_frame(frame, FrameMeta.for_frame(frame, frame_id=1))
    >>> first = ob.directory() + ob.downlink(200_000)
    """

    def __init__(
        self,
        store_bytes: int = DEFAULT_STORE_BYTES,
        *,
        classifier: str = "model",
        gain_q8: Sequence[int] | None = None,
        land_policy: str | None = None,
        boot_count: int = 0,
        link: str = "packets",
        spacecraft_id: int = DEFAULT_SPACECRAFT_ID,
    ) -> None:
        if classifier not in CLASSIFIERS:
            raise OnboardInputError(f"classifier must be one of {sorted(CLASSIFIERS)}")
        land_code = None if land_policy is None else _land_policy_code(land_policy)
        if not 0 <= boot_count <= 0xFFFF:
            raise OnboardInputError(f"boot_count {boot_count} not in 0..65535")
        self._lib = _lib.load()
        if classifier == "model" and not self._lib.tri_host_has_model():
            raise FirmwareError(
                "the host build has no classifier model (models/shipped holds no exported "
                "model): train and export one, or use classifier='rule' in tests"
            )
        self.store_bytes = int(store_bytes)
        self.classifier = classifier
        # 8-byte aligned blocks owned by this object for its whole life.
        self._state = np.zeros(-(-self._lib.tri_host_onboard_bytes() // 8), dtype=np.uint64)
        self._store = np.zeros(-(-self.store_bytes // 8), dtype=np.uint64)
        self._work = np.zeros(-(-self._lib.tri_host_work_bytes() // 8), dtype=np.uint64)
        # the streaming classifier's rings (the Cortex-M4 image keeps them in PSRAM)
        self._scratch = np.zeros(max(1, -(-self._lib.tri_host_scratch_bytes() // 8)), np.uint64)
        gains = None
        if gain_q8 is not None:
            gains = np.ascontiguousarray(gain_q8, dtype=np.uint16)
            if gains.shape != (config()["bands"],) or np.any(np.asarray(gain_q8) > 65535):
                raise OnboardInputError(f"gain_q8 needs {config()['bands']} values in 0..65535")
        self._gains = gains
        st = self._lib.tri_host_init(
            self._state.ctypes.data,
            self._store.ctypes.data,
            self.store_bytes,
            self._work.ctypes.data,
            self._work.nbytes,
            self._scratch.ctypes.data,
            self._scratch.nbytes,
            CLASSIFIERS[classifier],
            None if gains is None else gains.ctypes.data,
        )
        _lib.check(st, "tri_onboard_init")
        if land_policy is not None:
            st = self._lib.tri_host_set_land_policy(self._state.ctypes.data, land_code)
            _lib.check(st, "tri_onboard_set_land_policy")
        self.boot_count = int(boot_count)
        st = self._lib.tri_host_set_boot_count(self._state.ctypes.data, self.boot_count)
        _lib.check(st, "tri_onboard_set_boot_count")
        self.link = "packets"
        self.spacecraft_id = DEFAULT_SPACECRAFT_ID
        if link != "packets" or spacecraft_id != DEFAULT_SPACECRAFT_ID:
            self.set_link(link, spacecraft_id)

    def set_link(self, link: str, spacecraft_id: int = DEFAULT_SPACECRAFT_ID) -> None:
        """What directories and passes send from now on (tri_onboard_set_link): ``packets``,
        ``frames`` or ``cadu``; in the frame modes the pass budget counts link bytes (whole
        frames or CADUs) and the frame counts start again at 0."""
        modes = {m.label: int(m) for m in LinkMode}
        if link not in modes:
            raise OnboardInputError(f"link must be one of {sorted(modes)}, not {link!r}")
        st = self._lib.tri_host_set_link(self._state.ctypes.data, modes[link], int(spacecraft_id))
        _lib.check(st, f"tri_onboard_set_link({link}, spacecraft id {spacecraft_id})")
        self.link, self.spacecraft_id = link, int(spacecraft_id)

    def set_policy(
        self,
        discard_min_q: Sequence[int] | None = None,
        ship_crop_min_q: int = 0,
        cloud_call_min_q: int = NEVER_Q,
    ) -> None:
        """The decision thresholds for the frames to come, in the int8 output domain
        (``discard_min_q``: one per class; ``cloud_call_min_q``: cloud is the cell's class
        from this cloud output, ``NEVER_Q`` the top class; ``None`` restores the build's policy,
        models/shipped/triage_config.h). The second-opinion threshold and the crop margin
        stay the build's. :class:`OnboardInputError` for a threshold outside
        [-128, 128] (nothing changed)."""
        dmin = None
        if discard_min_q is not None:
            n_classes = config()["num_classes"]
            if len(discard_min_q) != n_classes:
                raise OnboardInputError(f"discard_min_q needs {n_classes} thresholds")
            if not all(
                -128 <= int(v) <= 128 for v in (*discard_min_q, ship_crop_min_q, cloud_call_min_q)
            ):
                raise OnboardInputError(
                    f"policy thresholds must lie in [-128, 128]: discard {list(discard_min_q)}, "
                    f"ship crop {ship_crop_min_q}, cloud call {cloud_call_min_q}"
                )
            dmin = np.ascontiguousarray(discard_min_q, dtype=np.int16)
        dptr = None if dmin is None else dmin.ctypes.data
        st = self._lib.tri_host_set_policy(
            self._state.ctypes.data, dptr, int(ship_crop_min_q), int(cloud_call_min_q)
        )
        _lib.check(st, "tri_onboard_set_policy")

    def bind_model(self, model_address: int | None) -> None:
        """Classify the frames to come with the streaming model at ``model_address`` (a
        ``tnn_stream_model_t``, e.g. :meth:`triage.engine.runtime.EngineLib.
        stream_model_address`; the library holding it must stay loaded) on scratch owned by
        this object, sized for the widest frame; or with the compiled-in model (on the
        instance's own scratch) when ``model_address`` is None. The store stays.
        :class:`OnboardError` when the bind fails (frames are then refused until a bind
        succeeds)."""
        if model_address is None:
            self._bound_scratch = None
            st = self._lib.tri_host_bind_model(self._state.ctypes.data, None, None, 0)
        else:
            n = int(self._lib.tri_host_stream_scratch_bytes(model_address))
            self._bound_scratch = np.zeros(max(1, -(-n // 8)), dtype=np.uint64)  # 8-aligned
            st = self._lib.tri_host_bind_model(
                self._state.ctypes.data, model_address, self._bound_scratch.ctypes.data, n
            )
        _lib.check(st, "bind model")

    def bind_active(self, models) -> None:
        """Classify the frames to come as the satellite does after a model switch: with the
        active model of ``models`` (a :class:`triage.onboard.models.ModelManager`, kept alive
        by the caller): its package's plan where it sits, its id and hash in every summary,
        and the decision policy the package carries; or the compiled-in model with the
        build's policy when no package is active. The store stays; a later
        :meth:`set_policy` or land policy applies until the next bind.
        :class:`OnboardError` when the bind fails."""
        n = int(config()["model_scratch_bytes"])
        self._bound_scratch = np.zeros(max(1, -(-n // 8)), dtype=np.uint64)  # 8-aligned
        self._bound_models = models
        st = self._lib.tri_host_bind_active(
            self._state.ctypes.data, models.address, self._bound_scratch.ctypes.data, n
        )
        _lib.check(st, "bind the active model")

    def process_frame(self, frame: np.ndarray, meta: FrameMeta | bytes) -> FrameReport:
        """Triage one frame ``[rows, cols, bands]`` (uint16 or uint8) with its metadata.

        Returns the report whatever happened; a refused frame (bad metadata,
        geometry, all no-data...) has a non-zero ``status`` and changes
        nothing but counters. ``meta`` may be raw FRAME_META bytes (to pass
        a damaged record through).
        """
        pix = frame_bytes(frame)
        meta_b = meta.pack() if isinstance(meta, FrameMeta) else bytes(meta)
        mbuf = ctypes.create_string_buffer(meta_b, max(1, len(meta_b)))
        sink = _Collector()
        n = pix.nbytes if isinstance(pix, np.ndarray) else len(pix)
        self._lib.tri_host_process_frame(
            self._state.ctypes.data,
            mbuf,
            len(meta_b),
            pix.ctypes.data if n else None,
            n,
            sink.fn,
            None,
        )
        return FrameReport.from_record(bytes(sink.buf))

    def directory(self) -> bytes:
        """The packets of a STORE_DIRECTORY product: what the store holds, best first."""
        sink = _Collector()
        n = ctypes.c_size_t(0)
        st = self._lib.tri_host_directory(self._state.ctypes.data, sink.fn, None, ctypes.byref(n))
        _lib.check(st, "tri_onboard_directory")
        return bytes(sink.buf)

    def downlink(self, budget_bytes: int, request: bytes | Sequence | None = None) -> bytes:
        """The packets sent in a pass of ``budget_bytes``.

        ``request``: a DOWNLINK_REQUEST telecommand (bytes) or its entries
        (see :func:`request_packet`); ``None`` sends not-yet-sent segments in
        priority order. A damaged request raises :class:`OnboardInputError`
        (nothing sent, counted).
        """
        if not 0 <= budget_bytes <= 0xFFFFFFFF:
            raise OnboardInputError("budget_bytes must fit 32 bits")
        req = None
        if request is not None:
            if isinstance(request, bytes | bytearray):
                req = bytes(request)
            else:
                req = request_packet(request)
        # an empty request still goes to the firmware (which refuses and counts it)
        rbuf = ctypes.create_string_buffer(req, max(1, len(req))) if req is not None else None
        sink = _Collector()
        n = ctypes.c_size_t(0)
        st = self._lib.tri_host_downlink(
            self._state.ctypes.data,
            int(budget_bytes),
            rbuf,
            len(req) if req is not None else 0,
            sink.fn,
            None,
            ctypes.byref(n),
        )
        _lib.check(st, "tri_onboard_downlink")
        return bytes(sink.buf)

    def counters(self) -> dict[str, int]:
        """Lifetime counters of this instance (frames refused by reason, packets...)."""
        names = _counter_fields()
        out = (ctypes.c_uint32 * len(names))()
        _lib.check(
            self._lib.tri_host_counters(self._state.ctypes.data, out, len(names)),
            "counters",
        )
        return dict(zip(names, (int(v) for v in out), strict=True))

    def store_use(self) -> dict[str, int]:
        """The store's fill now: ``products`` held, ``bytes_used`` (their allocations) and
        ``bytes_total`` (its data area), as the frame report's ``store_*`` words count them."""
        out = (ctypes.c_uint32 * 3)()
        _lib.check(self._lib.tri_host_store_use(self._state.ctypes.data, out), "store use")
        return {"products": int(out[0]), "bytes_used": int(out[1]), "bytes_total": int(out[2])}

    def store_ok(self) -> bool:
        """The store's invariants hold (tri_store_check)."""
        return self._lib.tri_host_store_check(self._state.ctypes.data) == 0
