"""The uplink of a model to the satellite: a model package sealed as an authenticated unit
(key id, anti-replay sequence number, HMAC-SHA-256) and cut into MODEL_UPLOAD telecommands
(:mod:`triage.contract.uplink`), or a MODEL_COMMAND (commit, roll back, factory default);
their cost on the radio at the uplink rate, checked against the pass; the log of what was
sent in the catalogue (``model_uplinks``), which also refuses to seal a second unit with a
sequence number already used with that key (the satellite would refuse it as a replay).

The packets are written one after the other to one file, in the order they must be sent;
a JSON manifest beside it (``<file>.json``) gives each packet's offset from the start of
the upload at the uplink rate (CLTU bytes, no gaps) and the totals.
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from ground_station.catalogue import Catalogue
from ground_station.errors import InputError
from triage.contract import model_package as mp
from triage.contract import uplink as ul
from triage.contract.enums import ModelAction


def _schedule(packets: list[bytes], rate_bps: float) -> list[dict]:
    out = []
    t = 0.0
    for k, p in enumerate(packets):
        link = ul.tc_link_bytes(len(p))
        out.append({"index": k, "packet_bytes": len(p), "link_bytes": link,
                    "start_s": round(t, 4)})  # fmt: skip
        t += 8 * link / rate_bps
    return out


def _record(db, kind: str, key: ul.KeyFile, arsn: int, model_id: int, pkg, first_seq: int,
            packets: list[bytes]) -> None:  # fmt: skip
    if not os.path.exists(db):
        Catalogue.open(db, write=True, create=True).close()
    with Catalogue.open(db, write=True) as cat:
        last = cat.con.execute(
            "SELECT max(arsn) FROM model_uplinks WHERE key_id = ?", (key.key_id,)
        ).fetchone()[0]
        if last is not None and arsn <= last:
            raise InputError(
                f"sequence number {arsn} is not above {last}, the last one sealed with key "
                f"{key.key_id}: the satellite would refuse it as a replay (use --seq {last + 1})"
            )
        try:
            with cat.transaction() as con:
                con.execute(
                    "INSERT INTO model_uplinks (created, kind, key_id, arsn, model_id, "
                    "package_sha256, model_sha256, first_seq_count, packets, link_bytes) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        datetime.now(UTC).isoformat(), kind, key.key_id, arsn, model_id,
                        None if pkg is None else pkg.sha256.hex(),
                        None if pkg is None else pkg.model_sha256.hex(),
                        first_seq, len(packets), sum(ul.tc_link_bytes(len(p)) for p in packets),
                    ),
                )  # fmt: skip
        except sqlite3.IntegrityError as exc:
            raise InputError(f"sequence number {arsn} already used: {exc}") from None


def _next_seq_count(db, kind: str) -> int:
    """The next packet sequence count of the telecommands' APID, from the catalogue's log."""
    if db is None or not os.path.exists(db):
        return 0
    with Catalogue.open(db) as cat:
        if not cat.con.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'model_uplinks'"
        ).fetchone():
            return 0  # a catalogue of before schema 3: nothing uplinked yet
        where = "kind = 'upload'" if kind == "upload" else "kind != 'upload'"
        n = cat.con.execute(
            f"SELECT coalesce(sum(packets), 0) FROM model_uplinks WHERE {where}"
        ).fetchone()[0]
    return int(n)


def _write(out: Path, packets: list[bytes], report: dict) -> dict:
    out = Path(out)
    if out.exists() and out.is_dir():
        raise InputError(f"{out} is a folder: give the packet file's path")
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(b"".join(packets))
    tmp.replace(out)
    manifest = out.with_name(out.name + ".json")
    manifest.write_text(json.dumps(report, indent=2) + "\n")
    report["packets_file"] = str(out)
    report["manifest"] = str(manifest)
    return report


def uplink_model(
    package_path: Path,
    key_file: Path,
    seq: int,
    out: Path,
    *,
    rate_bps: float = 9600.0,
    pass_seconds: float | None = None,
    db: str | os.PathLike | None = None,
) -> dict:
    """Seals the package at ``package_path`` with the key of ``key_file`` and sequence number
    ``seq``, writes its MODEL_UPLOAD telecommands to ``out`` (and the manifest), logs it in
    the catalogue ``db`` if given. The upload must fit one pass (``pass_seconds``): the
    satellite refuses an upload the end of a pass cuts short."""
    try:
        data = Path(package_path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the package {package_path}: {exc.strerror}") from None
    pkg = mp.parse_package(data)  # PackageError names the defect
    key = ul.read_key_file(key_file)
    if rate_bps <= 0:
        raise InputError(f"uplink rate {rate_bps} bit/s")
    unit = ul.seal_unit(data, key=key.key, key_id=key.key_id, arsn=seq)
    first = _next_seq_count(db, "upload")
    packets = ul.upload_packets(unit, first_seq_count=first)
    seconds = ul.uplink_seconds(packets, rate_bps)
    if pass_seconds is not None and seconds > pass_seconds:
        raise InputError(
            f"the upload takes {seconds:.1f} s at {rate_bps:g} bit/s, the pass has "
            f"{pass_seconds:.1f} s: it must go whole in one pass (the satellite drops an "
            "upload the end of a pass cuts short)"
        )
    if db is not None:
        _record(db, "upload", key, seq, pkg.model_id, pkg, first, packets)
    report = {
        "kind": "MODEL_UPLOAD",
        "spacecraft": key.spacecraft,
        "key_id": key.key_id,
        "arsn": seq,
        **pkg.describe(),
        "unit_bytes": len(unit),
        "packets": len(packets),
        "packet_bytes": sum(len(p) for p in packets),
        "link_bytes": sum(ul.tc_link_bytes(len(p)) for p in packets),
        "rate_bps": rate_bps,
        "uplink_seconds": round(seconds, 2),
        "pass_seconds": pass_seconds,
        "first_seq_count": first,
        "schedule": _schedule(packets, rate_bps),
    }
    return _write(out, packets, report)


def uplink_command(
    action: str,
    model_id: int,
    key_file: Path,
    seq: int,
    out: Path,
    *,
    rate_bps: float = 9600.0,
    db: str | os.PathLike | None = None,
) -> dict:
    """A MODEL_COMMAND telecommand (commit, rollback, factory) to ``out``."""
    try:
        act = ModelAction[action.upper()]
    except KeyError:
        names = ", ".join(a.name.lower() for a in ModelAction)
        raise InputError(f"unknown model action {action!r} (one of {names})") from None
    if act == ModelAction.FACTORY and model_id != 0:
        raise InputError("the factory command names model 0")
    key = ul.read_key_file(key_file)
    first = _next_seq_count(db, "command")
    pkt = ul.command_packet(act, model_id, key=key.key, key_id=key.key_id, arsn=seq,
                            seq_count=first)  # fmt: skip
    if db is not None:
        _record(db, act.name.lower(), key, seq, model_id, None, first, [pkt])
    report = {
        "kind": "MODEL_COMMAND",
        "action": act.name,
        "model_id": model_id,
        "spacecraft": key.spacecraft,
        "key_id": key.key_id,
        "arsn": seq,
        "packets": 1,
        "link_bytes": ul.tc_link_bytes(len(pkt)),
        "uplink_seconds": round(ul.uplink_seconds([pkt], rate_bps), 3),
        "rate_bps": rate_bps,
    }
    return _write(out, [pkt], report)


def keygen(spacecraft: str, key_id: int, out: Path, *, flash_out: Path | None = None) -> dict:
    """A new uplink key (the operating system's random source): the ground's key file at
    ``out`` (mode 0600, never overwritten) and, with ``flash_out``, the satellite's model
    flash image provisioned with it (key store; everything else erased), to load before
    launch."""
    if not spacecraft:
        raise InputError("name the spacecraft the key is for")
    key = os.urandom(ul.KEY_BYTES)
    ul.write_key_file(Path(out), spacecraft, key_id, key)
    report = {"spacecraft": spacecraft, "key_id": key_id, "key_file": str(out)}
    if flash_out is not None:
        path = Path(flash_out)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(ul.model_flash_image({key_id: key}))
        report["model_flash"] = str(path)
    return report
