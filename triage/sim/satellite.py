"""The spacecraft of a simulation: frames through the firmware, its on-board store, and what
it sends at each pass.

:class:`Satellite` is one instance of the firmware's host build
(:class:`triage.onboard.Onboard`, the model classifier) whose product store persists
across the run: :meth:`Satellite.capture` processes a frame (its products wait in the
store), :meth:`Satellite.directory` is the STORE_DIRECTORY that opens a pass and
:meth:`Satellite.downlink` the packets sent for the ground's request within the rest of
the budget. With ``record_ops`` every operation is kept with the host build's output,
and :meth:`Satellite.replay_on_qemu` replays them in one boot of the Cortex-M4 image
(its model flash holding the package the satellite bound, if any), which must give the
same bytes.

The checks that need the firmware's build come first in a run:
:func:`check_gain_sources` (the frames' gains are the ones compiled in) and
:func:`check_image` (the Cortex-M4 image is built).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from triage.contract.enums import Action
from triage.contract.packets import DEFAULT_SPACECRAFT_ID
from triage.contract.tile_spec import cell_count, tile_spec
from triage.contract.uplink import model_flash_image
from triage.errors import FirmwareError
from triage.onboard import (
    FrameMeta,
    FrameReport,
    Onboard,
    config,
    run_on_qemu,
    time_fields,
)
from triage.onboard.image import image_path
from triage.onboard.models import ModelFlash, ModelManager, model_status_packets
from triage.sim.classifiers import (
    Classifier,
    ClassifierSet,
    LoadedModel,
    Thresholds,
    compiled_model,
    model_id,
    model_package,
    packaged,
    preloaded_flash,
)
from triage.sim.errors import SceneError
from triage.sim.frames import FrameGeo
from triage.sim.manifest import Frame, Manifest


def check_gain_sources(manifest: Manifest) -> None:
    """:class:`SceneError` when a frame declares gains other than the firmware's."""
    built = tile_spec().default_gain_source
    for f in manifest.frames:
        if f.gain_source is not None and f.gain_source != built:
            raise SceneError(
                f"frame {f.frame_id} ({f.scene}): gain_source {f.gain_source!r}, but the "
                f"firmware is built with the gains of {built!r} (models/tile_spec.json)"
            )


def check_image() -> None:
    """A clear error now if the Cortex-M4 image (``--target qemu``) is not built."""
    image_path()


def frame_meta(frame: Frame, geo: FrameGeo) -> FrameMeta:
    """The FRAME_META the camera hands the firmware with a frame."""
    time_s, time_sub = time_fields(frame.capture_time_utc)
    return FrameMeta(
        frame_id=frame.frame_id,
        rows=geo.rows,
        cols=geo.cols,
        bands=len(geo.band_paths),
        sample_bits=geo.sample_bits,
        nodata=frame.nodata,
        time_s=time_s,
        time_sub=time_sub,
        crs_epsg=geo.crs_epsg,
        geotransform=geo.geotransform,
        dn_scale=frame.dn_scale or (0, 0),
    )


def crop_cell_origins(rep: FrameReport, geo: FrameGeo) -> list[tuple[int, int]]:
    """(row, col) origins of the cells the firmware decided to crop at full resolution."""
    if rep.actions.size == 0:
        return []
    if rep.actions.shape != (cell_count(geo.rows), cell_count(geo.cols)):
        return []
    c = tile_spec().cell_px
    return [(c * i, c * j) for i, j in zip(*np.nonzero(rep.actions == Action.CROP), strict=True)]


@dataclass
class Capture:
    """One frame through the firmware."""

    report: FrameReport
    process_s: float  # wall-clock time of the firmware call
    crop_cells: list[tuple[int, int]]  # origins of the cells it cropped
    notes: list[str] = field(default_factory=list)  # a refused frame, a full store

    @property
    def counts(self) -> dict[str, int]:
        return self.report.counts

    def cells_by_class(self, classes: list[str]) -> list[int]:
        return [self.counts[f"cells_{k}"] for k in classes]

    def discarded_by_class(self, classes: list[str]) -> list[int]:
        return [self.counts[f"discarded_{k}"] for k in classes]


@dataclass
class _Op:
    """One firmware operation and the host build's output, kept for a QEMU replay."""

    op: tuple
    data: bytes
    frame_id: int | None = None


@dataclass
class M4Replay:
    """The Cortex-M4 image's figures for a replayed run."""

    operations: int
    insns_by_frame: dict[int, int]
    stack_peak_bytes: int

    def counters(self) -> dict[str, int]:
        return {
            "m4_operations": self.operations,
            "m4_frame_instructions_total": sum(self.insns_by_frame.values()),
            "m4_stack_peak_bytes": self.stack_peak_bytes,
        }


_PACKAGE_POLICY = Thresholds((), 0)
"""Stands for "the bound package's own policy" in :attr:`Satellite.thresholds`."""


class Satellite:
    """The firmware (host build) with its on-board store of ``store_bytes``, stamping
    ``spacecraft_id`` in every packet it makes (a QEMU replay sets it first, with the
    image's ``link`` step, when it is not the build's default)."""

    def __init__(
        self,
        store_bytes: int,
        *,
        record_ops: bool = False,
        spacecraft_id: int = DEFAULT_SPACECRAFT_ID,
    ):
        self.store_bytes = store_bytes
        self.spacecraft_id = int(spacecraft_id)
        self.onboard = Onboard(store_bytes, classifier="model", spacecraft_id=self.spacecraft_id)
        self.config = config()
        self.record_ops = record_ops
        self.ops: list[_Op] = []
        if record_ops and self.spacecraft_id != DEFAULT_SPACECRAFT_ID:
            self.ops.append(_Op(("link", "packets", self.spacecraft_id), b""))
        self.classifier = "shipped"  # the compiled-in model, the build's thresholds
        self.thresholds: Thresholds | None = None
        self.identity: tuple[int | None, str] | None = None  # (model id, .tflite SHA-256)
        self._packages: dict[str, tuple[bytes, ModelManager]] = {}  # model flash, manager
        self._models: dict[str, LoadedModel] = {}  # no package: its engine library, loaded
        self.model_flash: bytes | None = None  # the flash a QEMU replay boots from
        self._blank: tuple[bytes, ModelManager] | None = None  # a blank model flash, manager
        self.models: ModelManager | None = None  # the model manager (fly_models), if any

    def fly_models(self, factory: bytes | None, keys: dict[int, bytes]) -> None:
        """Give the satellite a model manager (issue 19): its model flash provisioned with
        ``keys``, ``factory`` as the factory package (None: the compiled-in model is the
        default); from now on frames are classified by the manager's active model with its
        package's policy (:meth:`follow_models` after telecommands), not by :meth:`use`."""
        self.models = ModelManager(ModelFlash.provisioned(keys), factory=factory)
        self._bound: tuple[int, str] | None = None
        self.follow_models()

    def active_model(self) -> tuple[int, str]:
        """The manager's active model: its id and the SHA-256 (hex) of its .tflite."""
        s = self.models.status()
        return s["active_model_id"], s["active_model_sha256"]

    def follow_models(self) -> bool:
        """Bind the manager's active model if it changed (the firmware's switch); True then."""
        now = self.active_model()
        if now == self._bound:
            return False
        self.onboard.bind_active(self.models)
        self._bound = now
        return True

    def telecommand(self, packets: list[bytes]) -> list[int]:
        """MODEL_UPLOAD / MODEL_COMMAND packets as they arrive: each one's status (0 taken,
        else refused, counted in MODEL_STATUS)."""
        return [self.models.telecommand(pk) for pk in packets]

    def end_of_pass(self) -> None:
        """The pass closed: an upload not yet whole is refused (TRUNCATED)."""
        self.models.end_of_pass()

    def model_status(self) -> bytes:
        """The MODEL_STATUS product's packet(s)."""
        return model_status_packets(self.onboard, self.models)

    def use(
        self,
        cset: ClassifierSet,
        classifier: Classifier,
        thresholds: Thresholds | None,
        override: bool = False,
    ) -> None:
        """Classify the next frames with ``classifier``: the compiled-in model (with the
        build's policy), or the classifier's model package booted from a model flash that
        holds it in slot A (its own policy, its id and hash in the summaries), or, for a
        classifier too large for a package, its engine library (host only). The frames
        are decided with ``thresholds`` when ``override`` (the manifest's onboard.policy),
        for the compiled-in model or for an engine library; a package's own policy
        otherwise. The store stays.

        For a QEMU replay the model bound before the first operation is the model flash the
        image boots from (:attr:`model_flash`; none: the compiled-in model); a later bind
        is a ``load`` operation (the model flash programmed again between frames, a
        simulation's step), so one boot runs frames of several models."""
        if classifier.name == self.classifier and self.identity is None:
            self.identity = (0, classifier.sha256)  # bound at init
        if classifier.name != self.classifier:
            flash = None  # the compiled-in model: a blank model flash
            if classifier.compiled_in:
                # as the image binds it after its model flash is blanked: the compiled-in
                # model, its identity in the summaries and directories, the build's policy
                if self._blank is None:
                    blank = model_flash_image(None)
                    self._blank = (blank, ModelManager(ModelFlash(blank)))
                self.onboard.bind_active(self._blank[1])
                self.identity = (0, classifier.sha256)
            elif not packaged(cset, classifier):  # host only (the runner checks)
                m = self._models.get(classifier.name) or compiled_model(classifier)
                self._models[classifier.name] = m
                self.onboard.bind_model(m.address)
                self.identity = (None, classifier.sha256)  # the summaries name no model
            else:
                got = self._packages.get(classifier.name)
                if got is None:
                    mid = model_id(cset, classifier)
                    flash = preloaded_flash(model_package(cset, classifier), mid)
                    got = (flash, ModelManager(ModelFlash(flash)))
                    self._packages[classifier.name] = got
                self.onboard.bind_active(got[1])
                flash = got[0]
                s = got[1].status()
                self.identity = (s["active_model_id"], s["active_model_sha256"])
            self.classifier = classifier.name
            self._replay_bind(flash)
            # a package's bind sets its policy; the compiled-in model's keeps the one before
            self.thresholds = _PACKAGE_POLICY
        bound_package = self.identity[0] not in (0, None)
        want = _PACKAGE_POLICY if bound_package and not override else thresholds
        if want != self.thresholds:
            if want is None:
                self.onboard.set_policy(None)
            else:
                self.onboard.set_policy(
                    want.discard_min_q, want.ship_crop_min_q, want.cloud_call_min_q
                )
            self.thresholds = want

    def _replay_bind(self, flash: bytes | None) -> None:
        """What a QEMU replay does for a bind: boot from ``flash`` (None: blank) when no
        operation but the spacecraft id's ``link`` step came before, else a ``load``
        operation."""
        if all(o.op[0] == "link" for o in self.ops):
            self.model_flash = flash
        elif self.record_ops:  # None: the compiled-in model, bound from the blank flash
            self.ops.append(_Op(("load", flash if flash is not None else self._blank[0]), b""))

    def capture(self, frame: Frame, geo: FrameGeo, pixels: np.ndarray) -> Capture:
        """Process a frame; :class:`FirmwareError` when the firmware refuses it for any
        reason but every cell being no-data (a note then)."""
        label = f"frame {frame.frame_id} ({frame.scene})"
        meta = frame_meta(frame, geo)
        t0 = time.perf_counter()
        rep = self.onboard.process_frame(pixels, meta)
        dt = time.perf_counter() - t0
        if self.record_ops:
            self.ops.append(_Op(("frame", pixels, meta), rep.record, frame.frame_id))
        notes = []
        if rep.status != 0:
            if rep.status_name.upper().endswith("NODATA"):
                notes.append(f"{label}: refused by the firmware, every cell is no-data")
            else:
                raise FirmwareError(
                    f"{label}: the firmware refused the frame: {rep.status_name} "
                    f"(status {rep.status})"
                )
        c = rep.counts
        if c["products_dropped"] or c["products_evicted"]:
            notes.append(
                f"{label}: store full, {c['products_dropped']} products dropped and "
                f"{c['products_evicted']} evicted"
            )
        return Capture(rep, dt, crop_cell_origins(rep, geo), notes)

    def directory(self) -> bytes:
        """The STORE_DIRECTORY packets that open a pass."""
        directory = self.onboard.directory()
        if self.record_ops:
            self.ops.append(_Op(("directory",), directory))
        return directory

    def downlink(self, budget_bytes: int, request: bytes | None) -> bytes:
        """The packets sent for ``request`` (None: none arrived) within ``budget_bytes``."""
        stream = self.onboard.downlink(budget_bytes, request)
        if self.record_ops:
            self.ops.append(_Op(("downlink", budget_bytes, request), stream))
        return stream

    def counters(self) -> dict[str, int]:
        return self.onboard.counters()

    def replay_on_qemu(self) -> M4Replay:
        """Replay the recorded operations on the Cortex-M4 image; the bytes must match
        (:class:`FirmwareError` naming the first operation that differs)."""
        run = run_on_qemu(
            [o.op for o in self.ops],
            store_bytes=self.store_bytes,
            classifier="model",
            model_flash=self.model_flash,
        )
        insns_by_frame: dict[int, int] = {}
        for i, (o, r) in enumerate(zip(self.ops, run.results, strict=True)):
            if r.data != o.data:
                first = next(
                    (k for k, (a, b) in enumerate(zip(r.data, o.data, strict=False)) if a != b),
                    min(len(r.data), len(o.data)),
                )
                what = f"frame {o.frame_id}" if o.frame_id is not None else o.op[0]
                raise FirmwareError(
                    f"--target qemu: operation {i} ({what}) gives {len(r.data)} bytes on the "
                    f"Cortex-M4 image and {len(o.data)} on the host build; first difference "
                    f"at byte {first}"
                )
            if o.frame_id is not None and r.insns is not None:
                insns_by_frame[o.frame_id] = r.insns
        return M4Replay(len(self.ops), insns_by_frame, run.stack_peak_bytes)
