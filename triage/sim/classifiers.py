"""Which classifier classifies each frame, and whether that is in-sample.

A figure a designer takes to a review must come from a model that never saw the
scene it is scored on. ``models/classifiers.json`` lists the classifiers the
simulator can put on board, each with the real imagery it was trained on (data
source ids: ``sen2ships/<port>``, ``coastal/<chip>``, ``clouds/<set>[/<image>]``).
A frame names the real imagery its pixels come from (``Frame.sources``, or the
``data:`` folders of its bands), and:

- ``--model auto`` (the default): the compiled-in (shipped) classifier when it never
  saw any of the frame's sources; else the first listed classifier that never saw
  them (a leave-ports-out fold model) among those not marked ``auto: false``; else
  the shipped one, labelled in-sample with the reason. A frame whose manifest entry
  names a ``model`` keeps it.
- ``--model shipped`` (or any listed name): that classifier for every frame, each
  frame still labelled by what it was trained on.

A frame is *in-sample* when its classifier's training sources hold one of the
frame's sources, *out-of-sample* when none, and *unknown* when the frame does not
say where its pixels come from (a manifest of files outside the data folder
without ``sources``). Synthetic frames say ``sources: []``: out-of-sample.

Plugging in new models is an entry in the JSON, not code. On board, a classifier that
is not compiled in is a model package
(:func:`model_package`: :func:`triage.engine.package.package_model` of its ``.tflite``
with its policy), installed in slot A of a model flash image (:func:`preloaded_flash`)
that the firmware's model manager boots from; the frame pipeline binds it with the
package's policy (``Onboard.bind_active`` on the host build, the image's own boot under
QEMU), so that both targets run the same bytes and every FRAME_SUMMARY names the model
(its id, :func:`model_id`, and its ``.tflite``'s SHA-256); the firmware instance
switches per frame, keeping its store. Packages are cached under
``<build dir>/sim-classifiers/`` by the ``.tflite``'s SHA-256. A classifier too large for
a model slot is compiled instead with the engine's streaming exporter
(:mod:`triage.engine.stream`) into an engine host library there and bound from it
(``Onboard.bind_model``, host only; its frames' summaries then carry model id 0).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from triage import paths
from triage.contract import model_package as mp
from triage.contract import paths as contract_paths
from triage.contract import uplink as ul
from triage.contract.enums import Slot
from triage.contract.errors import PackageError
from triage.contract.policy import NEVER_Q, Policy, load_policy, prob_to_min_q
from triage.contract.tile_spec import tile_spec
from triage.engine import build as engine_build
from triage.engine import package as engine_package
from triage.engine import stream as engine_stream
from triage.engine.runtime import EngineLib
from triage.sim.errors import ClassifierError, ManifestError
from triage.sim.manifest import DATA_PREFIX, Frame, PolicyThresholds

CLASSIFIERS_FORMAT = "triage-classifiers"
SHIPPED = "shipped"
AUTO = "auto"
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")

Sample = Literal["in-sample", "out-of-sample", "unknown"]


class Classifier(BaseModel):
    """One classifier the simulator can put on board."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,40}$")
    tflite: str = Field(
        min_length=1, description="path, absolute or relative to the registry's folder"
    )
    sha256: str = Field(description="SHA-256 of the .tflite")
    compiled_in: bool = Field(default=False, description="the firmware's built-in model")
    description: str = ""
    training_sources: list[str] = Field(
        default_factory=list, description="data source ids of the real imagery it was trained on"
    )
    policy: str | None = Field(
        default=None,
        description="policy.json (absolute or relative to the registry's folder): the "
        "thresholds it was chosen with; None: the firmware build's policy",
    )
    auto: bool = Field(
        default=True,
        description="chosen by itself: by --model auto and by the scenarios that pick a "
        "classifier per frame (maritime); false: only where named (a manifest's frame or "
        "model_update, --model), e.g. an older model kept as a launch model",
    )

    @property
    def policy_file(self) -> Path | None:
        """The policy file it decides with (None: the firmware build's)."""
        return None if self.policy is None else Path(self.policy)

    @model_validator(mode="after")
    def _sha(self) -> Classifier:
        if not _SHA_RE.match(self.sha256):
            raise ValueError(f"classifier {self.name}: sha256 must be 64 lowercase hex digits")
        if self.compiled_in and not self.auto:
            raise ValueError(
                f"classifier {self.name}: the compiled-in classifier is the fallback of "
                "--model auto; it cannot be auto: false"
            )
        return self

    def saw(self, sources: list[str]) -> list[str]:
        """The ``sources`` this classifier was trained on."""
        trained = set(self.training_sources)
        return [s for s in sources if s in trained]


class ClassifierSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["triage-classifiers"] = CLASSIFIERS_FORMAT
    version: Literal[1] = 1
    about: str = ""
    classifiers: list[Classifier] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> ClassifierSet:
        names = [c.name for c in self.classifiers]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"classifier names appear twice: {', '.join(dup)}")
        built = [c.name for c in self.classifiers if c.compiled_in]
        if built != [SHIPPED]:
            raise ValueError(
                f"exactly one classifier, named {SHIPPED!r}, is compiled_in (found: "
                f"{', '.join(built) or 'none'})"
            )
        return self

    @property
    def shipped(self) -> Classifier:
        return self.get(SHIPPED)

    @property
    def auto_choices(self) -> list[Classifier]:
        """The listed classifiers besides the compiled-in one that may be chosen by
        themselves (``auto``), in the registry's order."""
        return [c for c in self.classifiers if not c.compiled_in and c.auto]

    def get(self, name: str) -> Classifier:
        for c in self.classifiers:
            if c.name == name:
                return c
        raise ClassifierError(
            f"no classifier named {name!r} (known: {', '.join(c.name for c in self.classifiers)})"
        )


REGISTRY_ENV = "TRIAGE_CLASSIFIERS"


def registry_path() -> Path:
    """``$TRIAGE_CLASSIFIERS``, else ``models/classifiers.json``."""
    env = os.environ.get(REGISTRY_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return paths.repo_root() / "models" / "classifiers.json"


@cache
def _load_cached(path: str) -> ClassifierSet:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClassifierError(f"classifier registry not found: {p}") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ClassifierError(f"classifier registry {p} cannot be read: {exc}") from None
    try:
        cset = ClassifierSet.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"]) or "(top level)"
        raise ClassifierError(f"classifier registry {p}: {loc}: {first['msg']}") from None
    base = p.parent

    def absolute(rel: str | None) -> str | None:
        return None if rel is None else str((base / rel).resolve())

    return cset.model_copy(
        update={
            "classifiers": [
                c.model_copy(update={"tflite": absolute(c.tflite), "policy": absolute(c.policy)})
                for c in cset.classifiers
            ]
        }
    )


def load_classifiers(path: Path | None = None) -> ClassifierSet:
    """The registry (``$TRIAGE_CLASSIFIERS``, else ``models/classifiers.json``), validated,
    its paths made absolute."""
    return _load_cached(str(Path(path or registry_path()).resolve()))


def frame_sources(frame: Frame) -> list[str] | None:
    """Data source ids of the real imagery in a frame: its ``sources``, else the folders
    of its ``data:`` band paths (``data:sen2ships/athens/B02.tif`` -> ``sen2ships/athens``,
    ``data:coastal/accra.tif`` -> ``coastal/accra``);
    None when a band comes from outside the data folder and the frame does not say."""
    if frame.sources is not None:
        return list(frame.sources)
    out: list[str] = []
    for b in frame.bands.values():
        if not b.path.startswith(DATA_PREFIX):
            return None
        rel = Path(b.path[len(DATA_PREFIX) :])
        # a scene's folder (sen2ships/athens/B02.tif), or a one-file scene (coastal/accra.tif)
        src = str(rel.parent / rel.stem) if len(rel.parts) == 2 else str(rel.parent)
        if src not in out:
            out.append(src)
    return out


@dataclass(frozen=True)
class Assignment:
    """The classifier of one frame, and what it means for the frame's figures."""

    model: str
    sample: Sample
    reason: str

    @property
    def in_sample(self) -> bool | None:
        return {"in-sample": True, "out-of-sample": False}.get(self.sample)


def label(c: Classifier, sources: list[str] | None) -> tuple[Sample, str]:
    """Whether classifier ``c`` saw a frame of ``sources``, and why."""
    if sources is None:
        return "unknown", "the frame does not say where its pixels come from"
    seen = c.saw(sources)
    if seen:
        return "in-sample", f"{c.name} was trained on {', '.join(seen)}"
    if not sources:
        return "out-of-sample", "synthetic pixels, no real imagery"
    return "out-of-sample", f"{c.name} never saw {', '.join(sources)}"


def assign(frame: Frame, cset: ClassifierSet, choice: str = AUTO) -> Assignment:
    """The classifier for ``frame`` under ``choice`` (``auto``, or a classifier name)."""
    sources = frame_sources(frame)
    if frame.model is not None and choice == AUTO:
        c = cset.get(frame.model)
        return Assignment(c.name, *label(c, sources))
    if choice != AUTO:
        c = cset.get(choice)
        return Assignment(c.name, *label(c, sources))
    shipped = cset.shipped
    if sources is None or not shipped.saw(sources):
        return Assignment(shipped.name, *label(shipped, sources))
    for c in cset.auto_choices:
        if not c.saw(sources):
            return Assignment(c.name, *label(c, sources))
    sample, why = label(shipped, sources)
    return Assignment(shipped.name, sample, f"{why}; no listed classifier is unseen by this frame")


def check_compiled_in(cset: ClassifierSet, firmware_sha256: str) -> None:
    """:class:`ClassifierError` unless the registry's compiled-in classifier is the model
    the firmware was built with (so that its training sources describe it)."""
    want = cset.shipped.sha256
    if firmware_sha256 != want:
        raise ClassifierError(
            f"the firmware's compiled-in model has SHA-256 {firmware_sha256 or '(none)'}, but "
            f"models/classifiers.json describes {SHIPPED!r} as {want}: update the registry "
            "entry (and its training sources) with the model"
        )


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds in the int8 output domain, for ``Onboard.set_policy``."""

    discard_min_q: tuple[int, ...]
    ship_crop_min_q: int
    cloud_call_min_q: int = NEVER_Q


def thresholds(c: Classifier, override: PolicyThresholds | None) -> Thresholds | None:
    """The thresholds a frame of classifier ``c`` is decided with: the classifier's policy
    (None: the build's), with ``override`` on top; None when both are the build's."""
    if c.policy is None and (override is None or override.is_empty()):
        return None
    build = load_policy()
    policy = build if c.policy is None else _model_policy(c, build)
    spec = tile_spec()
    dmin = list(policy.discard_min_q(spec))
    crop = policy.ship_crop_min_q
    if override is not None:
        for name, p in override.discard_min_prob.items():
            dmin[spec.class_id(name)] = prob_to_min_q(p, spec)
        if override.ship_crop_min_prob is not None:
            crop = prob_to_min_q(override.ship_crop_min_prob, spec)
    return Thresholds(tuple(dmin), crop, policy.cloud_call_min_q)


def _model_policy(c: Classifier, build: Policy) -> Policy:
    path = c.policy_file
    try:
        pol = load_policy(path)
    except Exception as exc:
        raise ClassifierError(f"classifier {c.name}: policy {path}: {exc}") from None
    if pol.crop_margin_px != build.crop_margin_px:
        raise ClassifierError(
            f"classifier {c.name}: its policy's crop margin ({pol.crop_margin_px} px) is "
            f"compiled into the firmware, which has {build.crop_margin_px} px"
        )
    return pol


@dataclass(frozen=True)
class LoadedModel:
    """A classifier compiled into an engine host library, ready to bind."""

    name: str
    lib: EngineLib
    address: int  # of its tnn_stream_model_t


def compiled_model(c: Classifier) -> LoadedModel:
    """Classifier ``c`` exported and built into its engine library (cached by SHA-256)."""
    if c.compiled_in:
        raise ClassifierError(f"{c.name} is compiled into the firmware: bind it as built in")
    return _compiled(c.name, c.tflite, c.sha256)


def _tflite_bytes(name: str, tflite: str, sha256: str) -> bytes:
    path = Path(tflite)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ClassifierError(f"classifier {name}: cannot read {path}: {exc}") from None
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise ClassifierError(
            f"classifier {name}: {path} has SHA-256 {got}, the registry says {sha256}"
        )
    return data


@cache
def _compiled(name: str, tflite: str, sha256: str) -> LoadedModel:
    data = _tflite_bytes(name, tflite, sha256)
    root = paths.build_dir() / "sim-classifiers" / f"{name}-{sha256[:12]}"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # workers of a sweep share the build
        try:
            engine_stream.export_stream(data, root / "models", name=name)
            so = engine_build.engine_lib(root / "models", root / "build")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    lib = EngineLib(so)
    return LoadedModel(name, lib, lib.stream_model_address(name))


def resolve_choice(choice: str, cset: ClassifierSet) -> str:
    """``auto`` or a known classifier name; :class:`ManifestError` otherwise."""
    if choice == AUTO:
        return choice
    try:
        return cset.get(choice).name
    except ClassifierError as exc:
        raise ManifestError(f"--model: {exc}") from None


PACKAGE_CREATED_S = 0
"""A simulation's packages carry creation time 0, so that a package (and the bytes a run
sends) depends only on the model, its policy and the build."""


def model_id(cset: ClassifierSet, c: Classifier) -> int:
    """The id a registry classifier carries in telemetry: 0 for the compiled-in model, else
    its 1-based position in the registry's list."""
    if c.compiled_in:
        return 0
    return 1 + [k.name for k in cset.classifiers].index(c.name)


def model_package(cset: ClassifierSet, c: Classifier) -> bytes:
    """Classifier ``c`` as a model package (its id, its policy or the build's), built once
    and cached beside its engine library by the ``.tflite``'s SHA-256;
    :class:`ClassifierError` when it cannot be one (e.g. larger than a model slot)."""
    if c.compiled_in:
        raise ClassifierError(f"{c.name} is compiled into the firmware: it has no package")
    try:
        return _package(c.name, c.tflite, c.sha256, c.policy_file, model_id(cset, c))
    except PackageError as exc:
        raise ClassifierError(f"classifier {c.name}: no model package: {exc}") from None


def packaged(cset: ClassifierSet, c: Classifier) -> bool:
    """Whether classifier ``c`` runs on board as a model package; when it cannot be one
    (larger than a model slot) the host build binds it from its engine library
    (:func:`compiled_model`) and its frames' summaries carry model id 0."""
    try:
        model_package(cset, c)
    except ClassifierError:
        compiled_model(c)  # a clear error now if it cannot be built either
        return False
    return True


@cache
def _package(name: str, tflite: str, sha256: str, policy: Path | None, mid: int) -> bytes:
    data = _tflite_bytes(name, tflite, sha256)
    # keyed by what goes into it: the policy (the build's when None) and the package format
    pol_file = contract_paths.policy_path() if policy is None else policy
    pol_sha = hashlib.sha256(pol_file.read_bytes()).hexdigest()
    root = paths.build_dir() / "sim-classifiers" / f"{name}-{sha256[:12]}"
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"package-v{mp.PACKAGE_VERSION}-{mid}-{pol_sha[:12]}.bin"
    with open(root / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # workers of a sweep share the build
        try:
            if path.exists():
                return path.read_bytes()
            pkg = engine_package.package_model(
                data, model_id=mid, policy_path=policy, created_s=PACKAGE_CREATED_S
            )
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(pkg.data)
            os.replace(tmp, path)
            return pkg.data
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def preloaded_flash(package: bytes, model: int) -> bytes:
    """A model flash image (no keys) with ``package`` in slot A, the active slot of its only
    boot record: the firmware's model manager boots it and binds the package."""
    flash = bytearray(ul.model_flash_image(None))
    slot = ul.FLASH_AREA["slot_a"]
    if len(package) > slot.size:
        raise ClassifierError(f"model {model}: a {len(package)}-byte package exceeds slot A")
    flash[slot.offset : slot.offset + len(package)] = package
    rec = ul.boot_record(
        active=Slot.A,
        generation=1,
        boot_count=0,
        slot_a_model_id=model,
        slot_a_bytes=len(package),
        slot_a_sha256=hashlib.sha256(package).digest(),
    )
    at = ul.FLASH_AREA["bootrec0"].offset
    flash[at : at + len(rec)] = rec
    return bytes(flash)
