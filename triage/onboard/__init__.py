"""The on-board application seen from Python.

- :class:`Onboard`: one instance of the host build (``libtrifw.so``) whose
  product store persists across frames: ``process_frame`` ->
  :class:`FrameReport`, ``directory()`` and ``downlink(budget, request)`` ->
  packet bytes.
- :class:`FrameMeta`: the FRAME_META record (layout from :mod:`triage.contract.records`).
- :func:`run_on_qemu`: the same operations on the Cortex-M4 image under QEMU,
  byte for byte comparable with :func:`run_on_host`.
- :mod:`triage.onboard.products`: packets -> products, decoded by the
  contract's codec (libaec), for tests and tools.
"""

from triage.onboard.errors import OnboardError, OnboardInputError
from triage.onboard.host import (
    CLASSIFIERS,
    DEFAULT_STORE_BYTES,
    FrameReport,
    Onboard,
    config,
    has_model,
    link_encode,
    model_sha256,
    request_packet,
)
from triage.onboard.meta import FrameMeta, time_fields
from triage.onboard.qemu_runner import OpResult, QemuRun, run_on_host, run_on_qemu

__all__ = [
    "CLASSIFIERS",
    "DEFAULT_STORE_BYTES",
    "FrameMeta",
    "FrameReport",
    "Onboard",
    "OnboardError",
    "OnboardInputError",
    "OpResult",
    "QemuRun",
    "config",
    "has_model",
    "link_encode",
    "model_sha256",
    "request_packet",
    "run_on_host",
    "run_on_qemu",
    "time_fields",
]
