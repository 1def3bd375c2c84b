"""The model-update scenario (issue 19): a better model uplinked mid-mission.

A manifest's ``onboard.model_update`` (:class:`triage.sim.manifest.ModelUpdate`) says which
classifier the satellite flies at launch, which model package the ground uplinks, with
which key and sequence number, and in which pass. The run then goes the way a mission's
would, through the real pieces on both sides:

- **at launch** the satellite (the firmware's host build) has a model manager
  (``tri_models``) with its model flash provisioned with the spacecraft's key; the launch
  model is its factory package (``triage.engine.package.package_model`` of the registry's
  ``.tflite`` with its registry policy, else the shipped one), or the compiled-in model for
  ``shipped``;
- **every pass** opens with the STORE_DIRECTORY and then a MODEL_STATUS product (active
  model, trial, sequence number, refusals by reason), which the ground ingests into its
  catalogue like any product (``groundstation status`` shows it);
- **in pass** ``pass_index`` the ground seals the package and cuts it into MODEL_UPLOAD
  telecommands with ``ground_station.uplink.uplink_model`` (what ``groundstation uplink
  model`` runs: the packet file and its schedule at the uplink rate, logged in the
  catalogue); the satellite takes them one by one (``tri_models_telecommand``: reassembly,
  key, MAC, anti-replay sequence, structure, CRC, ABI, kernels, spec, scratch, slot
  programming, golden vectors from the slot) and, once the package is on trial, the frame
  pipeline follows the switch (``tri_onboard_set_model``: the package's plan, id, hash and
  decision policy); frames captured after that pass are classified by the new model;
- **in the next pass**, with ``commit``, the ground commits the trial when the MODEL_STATUS
  it received says the new model is active on trial (a MODEL_COMMAND with the next
  sequence number, ``groundstation uplink command``).

Assumptions, stated in the report: the uplink is a separate carrier (full duplex) unless
``half_duplex``, in which case the upload's seconds are taken from that pass's downlink
(its byte budget shrinks by ``seconds x downlink rate / 8``); telecommands are not lost
(the uplink is acknowledged and retransmitted below the packet layer, COP-1 style); the
upload starts at the pass's acquisition of signal and must end before its loss of signal
(the satellite refuses an upload the end of a pass cuts short).

:func:`summarize` gives the report's figures: per pass, which model was active, the frames
captured since the pass before (and the model that classified them), the distinct visible
labelled ships imaged in them and delivered (by the end of the run: recall), the bytes sent;
and per model, before and after the switch, the same recall over its frames, the product
bytes its frames made, and the bytes sent per pass that carried products (passes that sent
only the directory and the MODEL_STATUS are left out of that mean). :func:`build_manifest`
writes a run of this scenario over the held-out ports of one leave-ports-out fold
(``triage imageset model-update``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from triage_models.folds import FOLDS

from triage.contract import model_package as mp
from triage.contract import uplink as ul
from triage.contract.errors import PackageError
from triage.contract.packets import split_packets
from triage.engine import package as packager
from triage.onboard import _lib
from triage.sim.build import DEFAULT_EPOCH, build_real_manifest
from triage.sim.classifiers import AUTO, Classifier, ClassifierSet, load_classifiers, model_id
from triage.sim.constellation import constellation_passes
from triage.sim.errors import ClassifierError, ManifestError
from triage.sim.link import Pass
from triage.sim.manifest import (
    Manifest,
    ModelUpdate,
    Onboard,
    dump_manifest,
    parse_manifest,
    resolve_path,
)
from triage.sim.results import TRIAGE

TELEMETRY = ("STORE_DIRECTORY", "MODEL_STATUS")
"""Product types every pass sends whatever the frames: not counted as a pass's products."""

ASSUMPTIONS = (
    "telecommands are not lost: the uplink is acknowledged and retransmitted below the "
    "packet layer (COP-1 style)",
    "the upload starts at the pass's acquisition of signal and must end before its loss of "
    "signal (the satellite refuses an upload cut short by the end of a pass)",
)


@dataclass
class UplinkPlan:
    """``onboard.model_update``, checked and resolved before the run."""

    cfg: ModelUpdate
    launch: Classifier
    launch_package: bytes | None  # the factory package (None: the compiled-in model)
    launch_id: int
    launch_package_sha256: str | None
    package_path: Path
    package: mp.Package
    new: Classifier
    key_file: Path
    key: ul.KeyFile
    satellite_keys: dict[int, bytes]
    upload_packets: int
    link_bytes: int
    uplink_seconds: float
    pass_seconds: float
    displaced_bytes: int  # downlink bytes the upload takes from its pass (half duplex)
    events: list[dict] = field(default_factory=list)  # what happened, in order
    pass_log: dict[int, dict] = field(default_factory=dict)  # per pass index

    def name_of(self, model_id: int, sha256: str) -> str:
        """The registry name of the model the satellite reports as active."""
        if (model_id, sha256) == (self.package.model_id, self.new.sha256):
            return self.new.name
        if sha256 == self.launch.sha256:
            return self.launch.name
        return f"model {model_id} ({sha256[:12]})"


def _err(item: str, msg: str) -> ManifestError:
    return ManifestError(f"onboard.model_update.{item}: {msg}")


def _read(item: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise _err(item, f"{path} not found") from None
    except OSError as exc:
        raise _err(item, f"{path} cannot be read: {exc.strerror}") from None


def _key(item: str, path: Path) -> ul.KeyFile:
    if not path.is_file():
        raise _err(item, f"{path} not found")
    try:
        return ul.read_key_file(path)
    except PackageError as exc:
        raise _err(item, str(exc)) from None


def prepare(
    manifest: Manifest,
    manifest_dir: Path,
    passes: list[Pass],
    cset: ClassifierSet,
    *,
    target: str,
    choice: str,
) -> UplinkPlan | None:
    """Check ``onboard.model_update`` (None when the manifest has none) before anything is
    written: every file, the package against the registry and the image, the keys, the
    pass and the upload's fit in it. :class:`ManifestError` names the item at fault."""
    cfg = manifest.onboard.model_update
    if cfg is None:
        return None
    if target != "host":
        raise _err("*", "the scenario runs on the host build (--target host)")
    if manifest.orbit.satellites != 1:
        raise _err("*", "the scenario takes one satellite (orbit.satellites 1)")
    if manifest.packet_loss.model == "link_budget":
        raise _err("*", "the scenario takes the packet loss models, not link_budget")
    if manifest.onboard.policy is not None:
        raise _err("*", "each model decides with its package's policy: drop onboard.policy")
    if choice != AUTO:
        raise _err("*", f"the active model classifies every frame: drop --model {choice}")
    try:
        launch = cset.get(cfg.launch_model)
    except ClassifierError as exc:
        raise _err("launch_model", str(exc)) from None
    package_path = resolve_path(cfg.package, manifest_dir)
    data = _read("package", package_path)
    try:
        pkg = mp.parse_package(data)
    except PackageError as exc:
        raise _err("package", f"{package_path}: {exc}") from None
    sha = pkg.model_sha256.hex()
    new = next((c for c in cset.classifiers if c.sha256 == sha), None)
    if new is None:
        raise _err(
            "package",
            f"{package_path} holds a model (SHA-256 {sha}) that models/classifiers.json does "
            "not list: the run could not say what it was trained on",
        )
    # both models carry the ids the registry gives them (triage.sim.classifiers.model_id)
    launch_id = model_id(cset, launch)
    if new.name == launch.name:
        raise _err("package", f"{package_path} holds the launch model {launch.name} itself")
    if pkg.model_id != model_id(cset, new):
        raise _err(
            "package",
            f"{package_path}: model id {pkg.model_id}, but models/classifiers.json gives "
            f"{new.name} the id {model_id(cset, new)} (package it with that id)",
        )
    key_file = resolve_path(cfg.key_file, manifest_dir)
    key = _key("key_file", key_file)
    sat_key = (
        key
        if cfg.satellite_key_file is None
        else _key("satellite_key_file", resolve_path(cfg.satellite_key_file, manifest_dir))
    )
    if not 0 <= cfg.pass_index < len(passes):
        raise _err("pass_index", f"{cfg.pass_index}: the window has passes 0..{len(passes) - 1}")
    p = passes[cfg.pass_index]
    unit = ul.seal_unit(data, key=key.key, key_id=key.key_id, arsn=cfg.seq)
    packets = ul.upload_packets(unit)
    seconds = ul.uplink_seconds(packets, cfg.uplink_rate_bps)
    pass_s = (p.los - p.aos).total_seconds()
    if seconds > pass_s:
        raise _err(
            "pass_index",
            f"the upload takes {seconds:.1f} s at {cfg.uplink_rate_bps:g} bit/s, pass "
            f"{cfg.pass_index} ({p.station}) lasts {pass_s:.1f} s",
        )
    stream = sum(len(pk) for pk in packets)
    if cfg.tamper_byte is not None and cfg.tamper_byte >= stream:
        raise _err("tamper_byte", f"{cfg.tamper_byte}: the upload has {stream} bytes")
    launch_pkg = None
    if not launch.compiled_in:
        tfl = _read("launch_model", Path(launch.tflite))
        if hashlib.sha256(tfl).hexdigest() != launch.sha256:
            raise _err("launch_model", f"{launch.tflite} is not the registry's {launch.sha256}")
        created = int(manifest.window_start_utc.timestamp())
        launch_pkg = packager.package_model(
            tfl,
            model_id=launch_id,
            created_s=created,
            policy_path=launch.policy_file,
        ).data
    displaced = (
        min(p.budget_bytes, math.ceil(seconds * manifest.link.rate_bps / 8))
        if cfg.half_duplex
        else 0
    )
    return UplinkPlan(
        cfg=cfg,
        launch=launch,
        launch_package=launch_pkg,
        launch_id=launch_id,
        launch_package_sha256=None if launch_pkg is None else mp.package_sha256(launch_pkg).hex(),
        package_path=package_path,
        package=pkg,
        new=new,
        key_file=key_file,
        key=key,
        satellite_keys={sat_key.key_id: sat_key.key},
        upload_packets=len(packets),
        link_bytes=sum(ul.tc_link_bytes(len(pk)) for pk in packets),
        uplink_seconds=seconds,
        pass_seconds=pass_s,
        displaced_bytes=displaced,
    )


def pass_budget(plan: UplinkPlan | None, p: Pass) -> Pass:
    """The pass as the downlink sees it: with a half-duplex upload, its budget less the
    upload's seconds."""
    if plan is None or p.index != plan.cfg.pass_index or not plan.displaced_bytes:
        return p
    return dataclasses.replace(p, budget_bytes=p.budget_bytes - plan.displaced_bytes)


def tamper(packets: list[bytes], offset: int) -> list[bytes]:
    """The packets with the low bit of byte ``offset`` of their stream flipped."""
    out = []
    for pk in packets:
        if 0 <= offset < len(pk):
            b = bytearray(pk)
            b[offset] ^= 1
            pk = bytes(b)
        offset -= len(pk)
        out.append(pk)
    return out


def ground_uplink(plan: UplinkPlan, p: Pass, ground) -> list[bytes]:
    """The ground's MODEL_UPLOAD telecommands for pass ``p`` (a
    :class:`triage.sim.ground.Ground`), made as ``groundstation uplink model`` makes them
    (packet file, schedule, catalogue log) and read back from the file."""
    report, out = ground.uplink_model(
        plan.package_path,
        plan.key_file,
        plan.cfg.seq,
        f"model_upload-pass{p.index:04d}",
        rate_bps=plan.cfg.uplink_rate_bps,
        pass_seconds=plan.pass_seconds,
    )
    packets = split_packets(out.read_bytes())
    plan.events.append(
        {
            "event": "upload",
            "pass": p.index,
            "station": p.station,
            "aos_utc": p.aos.isoformat(),
            "packets": report["packets"],
            "link_bytes": report["link_bytes"],
            "uplink_seconds": report["uplink_seconds"],
            "packet_file": str(out.relative_to(ground.folder.parent)),
        }
    )
    if plan.cfg.tamper_byte is not None:
        packets = tamper(packets, plan.cfg.tamper_byte)
    return packets


def ground_commit(plan: UplinkPlan, p: Pass, ground) -> bytes:
    """The MODEL_COMMAND that commits the trial (``groundstation uplink command commit``)."""
    report, out = ground.uplink_command(
        "commit",
        plan.package.model_id,
        plan.key_file,
        plan.cfg.seq + 1,
        f"model_commit-pass{p.index:04d}",
        rate_bps=plan.cfg.uplink_rate_bps,
    )
    plan.events.append(
        {
            "event": "commit",
            "pass": p.index,
            "uplink_seconds": report["uplink_seconds"],
            "link_bytes": report["link_bytes"],
        }
    )
    (pkt,) = split_packets(out.read_bytes())
    return pkt


def refusals(statuses: list[int]) -> dict[str, int]:
    """Telecommand statuses by name (0: taken)."""
    out: dict[str, int] = {}
    for st in statuses:
        name = "taken" if st == 0 else _lib.status_name(st)
        out[name] = out.get(name, 0) + 1
    return out


# ---------------------------------------------------------------- the report's figures


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def summarize(plan: UplinkPlan, res, ships, deliveries, frames_by_id, holds) -> dict:
    """The scenario's figures (metrics.json ``model_update``). ``holds(frame, ship)``: the
    ship's centre lies in the frame's window; ``deliveries``: the full-resolution products
    on the ground (:class:`triage.sim.scoring.Delivery`)."""
    records = {r.frame_id: r for r in res.frames}
    by_frame: dict[int, list] = {}
    for d in deliveries:
        by_frame.setdefault(d.frame_id, []).append(d)

    def ship_counts(frame_ids: list[int]) -> tuple[int, int]:
        """Distinct visible labelled ships whose centre lies in one of the frames, and those a
        full-resolution product of one of them delivered (by the end of the run)."""
        imaged: set[tuple[str, int]] = set()
        delivered: set[tuple[str, int]] = set()
        for fid in frame_ids:
            f = frames_by_id[fid]
            for s in ships:
                if s.scene != f.scene or not s.visible or not holds(f, s):
                    continue
                imaged.add((s.scene, s.label_id))
                r, c = s.centre
                if any(
                    d.covers(r - f.window.row0, c - f.window.col0) for d in by_frame.get(fid, [])
                ):
                    delivered.add((s.scene, s.label_id))
        return len(imaged), len(delivered)

    traffic = res.modes[TRIAGE].traffic
    switch = plan.cfg.pass_index
    passes = []
    prev = None
    for p, t in zip(res.passes, traffic, strict=True):
        fids = [
            r.frame_id
            for r in res.frames
            if (prev is None or r.capture_time >= prev) and r.capture_time < p.aos
        ]
        prev = p.aos
        imaged, delivered = ship_counts(fids)
        log = plan.pass_log.get(p.index, {})
        passes.append(
            {
                "pass": p.index,
                "station": p.station,
                "aos_utc": p.aos.isoformat(),
                "active_model": log.get("active_model"),
                "frames_captured_before": fids,
                "frames_classified_by": sorted({records[f].model for f in fids}),
                "ships_imaged": imaged,
                "ships_delivered": delivered,
                "recall": _ratio(delivered, imaged),
                "bytes_sent": t.sent_bytes,
                "product_bytes_sent": sum(
                    v for k, v in t.bytes_by_product.items() if k not in TELEMETRY
                ),
                "budget_bytes": pass_budget(plan, p).budget_bytes,  # the downlink's
                "uplink_seconds": log.get("uplink_seconds", 0.0),
                "model_status_received": log.get("model_status_received"),
            }
        )

    def side(model: str, pass_sel) -> dict:
        fids = [r.frame_id for r in res.frames if r.model == model]
        imaged, delivered = ship_counts(fids)
        sel = [q for q in passes if pass_sel(q["pass"])]
        busy = [q for q in sel if q["product_bytes_sent"]]
        sent = sum(q["bytes_sent"] for q in sel)
        samples = sorted({records[f].sample for f in fids})
        return {
            "model": model,
            "frames": len(fids),
            "sample": samples,
            "ships_imaged": imaged,
            "ships_delivered": delivered,
            "recall": _ratio(delivered, imaged),
            "product_bytes": sum(records[f].product_bytes for f in fids),
            "passes": len(sel),
            "bytes_sent": sent,
            "passes_with_products": len(busy),
            "bytes_per_pass_with_products": _ratio(sum(q["bytes_sent"] for q in busy), len(busy)),
        }

    up = next((e for e in plan.events if e["event"] == "upload"), None)
    switched = next((e for e in plan.events if e["event"] == "switch"), None)
    after_model = plan.new.name if switched is not None else plan.launch.name
    return {
        "launch_model": {
            "name": plan.launch.name,
            "model_id": plan.launch_id,
            "model_sha256": plan.launch.sha256,
            "package_sha256": plan.launch_package_sha256,
        },
        "uplinked_model": {
            "name": plan.new.name,
            "model_id": plan.package.model_id,
            "model_sha256": plan.new.sha256,
            "package_sha256": plan.package.sha256.hex(),
            "package_bytes": len(plan.package.data),
        },
        "uplink": {
            "pass": switch,
            "station": res.passes[switch].station,
            "rate_bps": plan.cfg.uplink_rate_bps,
            "packets": plan.upload_packets,
            "link_bytes": plan.link_bytes,
            "seconds": round(plan.uplink_seconds, 2),
            "pass_seconds": round(plan.pass_seconds, 1),
            "share_of_pass": round(plan.uplink_seconds / plan.pass_seconds, 4),
            "half_duplex": plan.cfg.half_duplex,
            "downlink_bytes_displaced": plan.displaced_bytes,
            "sent": up is not None,
            "switched": switched is not None,
            "tamper_byte": plan.cfg.tamper_byte,
        },
        "events": plan.events,
        "assumptions": [
            (
                "half duplex: the upload's seconds are taken from its pass's downlink"
                if plan.cfg.half_duplex
                else "full duplex: the uplink is a separate carrier and displaces no downlink"
            ),
            *ASSUMPTIONS,
        ],
        "passes": passes,
        "before": side(plan.launch.name, lambda k: k <= switch),
        "after": side(after_model, lambda k: k > switch),
    }


# ---------------------------------------------------------------- a manifest of the scenario


def build_manifest(
    out_dir: Path,
    *,
    fold: int,
    launch: str,
    uplinked_tflite: Path,
    data_dir: Path,
    link: str = "uhf",
    revisit_days: float = 1.0,
    uplink_rate_bps: float = 9600.0,
    half_duplex: bool = False,
    seq: int = 1,
    epoch: datetime | None = None,
) -> Path:
    """The scenario over the held-out ports of leave-ports-out fold ``fold``.

    Each port is imaged at its first daylight opportunity, and again at its first one from
    ``revisit_days`` after the first visit's last frame: the same Sentinel-2 scenes (the data
    holds one acquisition per port), so the two visits differ by the model alone. The package
    of ``uplinked_tflite`` (``uplink.tpkg``, with its registry policy, else the shipped one) goes
    up in the first pass
    after the first visit whose contact is long enough, signed with a TEST key
    (``TEST_KEY_simulation_only.json``: random, never a spacecraft's). Writes
    ``out_dir/manifest.json``; returns its path."""
    if not 1 <= fold <= len(FOLDS):
        raise ManifestError(f"fold {fold}: the folds are 1..{len(FOLDS)}")
    ports = tuple(FOLDS[fold - 1].ports)
    epoch = epoch or DEFAULT_EPOCH
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    first, _ = build_real_manifest(data_dir, link=link, epoch=epoch, ports=ports)
    last_first = max(f.capture_time_utc for f in first.frames)
    second, _ = build_real_manifest(
        data_dir, link=link, epoch=last_first + timedelta(days=revisit_days), ports=ports
    )
    frames = [
        f.model_copy(update={"frame_id": k + 1})
        for k, f in enumerate([*first.frames, *second.frames])
    ]
    first_second = min(f.capture_time_utc for f in second.frames)
    end = max(f.capture_time_utc for f in frames) + timedelta(days=2)
    base = first.model_copy(
        update={"frames": frames, "window_end_utc": end, "window_start_utc": epoch}
    )
    pkg_path = out_dir / "uplink.tpkg"
    tfl = Path(uplinked_tflite).read_bytes()
    created = int(epoch.timestamp())
    cset = load_classifiers()
    sha = hashlib.sha256(tfl).hexdigest()
    new = next((c for c in cset.classifiers if c.sha256 == sha), None)
    if new is None:
        raise ManifestError(
            f"{uplinked_tflite}: not a model models/classifiers.json lists (SHA-256 {sha})"
        )
    # with the classifier's own policy when the registry gives one (a fold model's, chosen
    # on the other folds: the scenario's ports are its fold's), else the shipped one
    pkg_path.write_bytes(
        packager.package_model(
            tfl,
            model_id=model_id(cset, new),
            created_s=created,
            policy_path=new.policy_file,
        ).data
    )
    key_path = out_dir / "TEST_KEY_simulation_only.json"
    if not key_path.exists():
        ul.write_key_file(key_path, "TEST KEY - simulation only, never flown", 1, os.urandom(32))
    seconds = ul.uplink_seconds(
        ul.upload_packets(ul.seal_unit(pkg_path.read_bytes(), key=b"\0" * 32, key_id=1, arsn=1)),
        uplink_rate_bps,
    )
    passes = constellation_passes(base)
    chosen = next(
        (
            p
            for p in passes
            if last_first < p.aos < first_second and (p.los - p.aos).total_seconds() > seconds
        ),
        None,
    )
    if chosen is None:
        raise ManifestError(
            f"no pass between the two visits is long enough for a {seconds:.0f} s upload"
        )
    update = ModelUpdate(
        launch_model=launch,
        package=pkg_path.name,
        key_file=key_path.name,
        seq=seq,
        pass_index=chosen.index,
        uplink_rate_bps=uplink_rate_bps,
        half_duplex=half_duplex,
    )
    name = (
        f"model update: fold {fold} ({', '.join(ports)}), {launch} at launch, "
        f"{Path(uplinked_tflite).name} uplinked in pass {chosen.index}"
    )
    manifest = base.model_copy(
        update={
            "name": name,
            "description": (
                f"The held-out ports of leave-ports-out fold {fold}, imaged twice "
                f"{revisit_days:g} days apart; between the visits the ground uplinks a better "
                "model (triage.sim.model_update)."
            ),
            "onboard": Onboard(model_update=update),
        }
    )
    path = out_dir / "manifest.json"
    dump_manifest(manifest, path)
    parse_manifest(json.loads(path.read_text()), str(path))  # it validates as written
    return path
