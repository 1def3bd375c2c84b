"""DOWNLINK_REQUEST files read back: what the ground asked the satellite for in a pass.

``groundstation plan --request-out`` writes the telecommand, and a simulation's kept streams
(``triage simulate --keep-streams``) keep every request the ground uplinked. This module
decodes such a file with the contract's decoder and says, per entry, what the satellite
will do with it (the firmware's rules, ``mcu_firmware/app/src/tri_downlink.c``):

- SEND: segments first..last of the product, in request order; refused (counted invalid on
  board) when first > last;
- RELEASE: the ground holds the whole product; the satellite frees it;
- REST: then every segment never sent, in the store's priority order; refused when any id
  or segment is set;
- any other action code: refused.

With a catalogue, each SEND and RELEASE entry is named: the product's type and segment
count and what the ground holds of it, from the products received, else from the latest
store directory that lists it.
"""

from __future__ import annotations

import os
from pathlib import Path

from ground_station.catalogue import Catalogue
from ground_station.errors import InputError, InputFileError
from triage.contract.enums import PRODUCT_BY_CODE, RequestAction
from triage.contract.errors import LayoutError
from triage.contract.packets import decode_request


def _entry(e: dict) -> dict:
    code = int(e["action"])
    try:
        action = RequestAction(code).name
    except ValueError:
        action = None
    out = {
        "action": action or f"unknown ({code})",
        "action_code": code,
        "frame_id": int(e["frame_id"]),
        "product_id": int(e["product_id"]),
        "segment_first": int(e["segment_first"]),
        "segment_last": int(e["segment_last"]),
        "refused": None,
    }
    if action is None:
        out["refused"] = f"unknown action code {code}"
    elif code == RequestAction.REST and any(
        out[k] for k in ("frame_id", "product_id", "segment_first", "segment_last")
    ):
        out["refused"] = "ids or segments set (a REST entry has them 0)"
    elif code == RequestAction.SEND and out["segment_first"] > out["segment_last"]:
        out["refused"] = "first segment after the last"
    return out


def read_request(path: str | os.PathLike) -> dict:
    """A DOWNLINK_REQUEST file as a JSON-ready dict: its sequence count and entries.
    :class:`InputFileError` when it cannot be read, :class:`InputError` naming the defect
    when it is not a DOWNLINK_REQUEST."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{p}: {exc.strerror or exc}") from None
    try:
        seq, entries = decode_request(data)
    except LayoutError as exc:
        raise InputError(f"{p}: not a DOWNLINK_REQUEST telecommand: {exc}") from None
    rows = [_entry(e) for e in entries]
    asked = sum(
        r["segment_last"] - r["segment_first"] + 1
        for r in rows
        if r["action"] == "SEND" and r["refused"] is None
    )
    return {
        "file": str(p),
        "bytes": len(data),
        "sequence_count": seq,
        "entries": rows,
        "segments_asked": asked,
        "then_rest": any(r["action"] == "REST" and r["refused"] is None for r in rows),
    }


def name_products(doc: dict, db: str | os.PathLike) -> dict:
    """``doc`` (:func:`read_request`) with each SEND and RELEASE entry's product named from
    the catalogue ``db``: ``product`` {type, segments, on the ground} or None when neither a
    received product nor a store directory lists it."""
    with Catalogue.open(db) as cat:
        for r in doc["entries"]:
            if r["action"] not in ("SEND", "RELEASE"):
                continue
            key = (r["frame_id"], r["product_id"])
            got = cat.product_rows("frame_id=? AND product_id=?", key)
            if got:
                row = got[-1]
                r["product"] = {
                    "type": row["product_type"],
                    "segments": row["segment_count"],
                    "on_the_ground": row["status"],
                    "segments_received": row["segments_received"],
                }
                continue
            listed = cat.con.execute(
                "SELECT product_type, segment_count, product_bytes FROM directory_entries "
                "WHERE frame_id=? AND product_id=? ORDER BY directory DESC LIMIT 1",
                key,
            ).fetchone()
            r["product"] = (
                {
                    "type": (
                        PRODUCT_BY_CODE[listed[0]].name
                        if listed[0] in PRODUCT_BY_CODE
                        else f"type {listed[0]}"
                    ),
                    "segments": listed[1],
                    "on_the_ground": "listed on board, nothing received",
                    "segments_received": 0,
                    "bytes_on_board": listed[2],
                }
                if listed
                else None
            )
    return doc
