"""Options and report lines of the link formats, shared by ``ingest`` and ``receive``."""

from __future__ import annotations

from typing import Annotated

import typer

from ground_station.errors import ForeignPacketsError, NoPacketsError
from ground_station.ingest import IngestStats
from ground_station.receive import INPUT_FORMATS
from triage.contract.frames import DEFAULT_SPACECRAFT_ID, MAX_SPACECRAFT_ID
from triage.contract.records import FORMAT_VERSION

FormatOption = Annotated[
    str,
    typer.Option(
        "--format",
        help="Input format: auto (detected per stream), packets (bare space packets), cadu "
        "(CCSDS 131.0-B CADUs: sync marker, randomised RS(255,223) codeblocks), frames (TM "
        "transfer frames back to back), kiss (KISS data frames of transfer frames).",
    ),
]


def spacecraft_id(text: str) -> int:
    """``--spacecraft-id``: decimal or, as the reports print it, hexadecimal (``0x1A7``)."""
    try:
        value = int(str(text), 0)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number (e.g. 423 or 0x1A7)") from None
    if not 0 <= value <= MAX_SPACECRAFT_ID:
        raise typer.BadParameter(f"{text} is not in 0 .. 0x{MAX_SPACECRAFT_ID:03X} (10 bits)")
    return value


SpacecraftOption = Annotated[
    int,
    typer.Option(
        "--spacecraft-id",
        parser=spacecraft_id,
        metavar="ID",
        help="Spacecraft id of the transfer frames and packets to accept (the packets' "
        "secondary header names it too), decimal or hexadecimal (0x1A7); those of any "
        "other are refused and counted.",
    ),
]

DecodeOption = Annotated[
    bool,
    typer.Option(
        "--decode-streams",
        help="Also decode every band stream of each complete product (libaec), as export "
        "does: a product whose CRC-32 passes but whose streams do not decode is then invalid "
        "at ingest and released on board at once, not skipped by name at export. Off by "
        "default: the CRC-32 proves the bytes are the satellite's, and decoding costs about "
        "40 % of ingest time.",
    ),
]


def check_format(fmt: str) -> str:
    if fmt not in INPUT_FORMATS:
        raise typer.BadParameter(
            f"must be one of {', '.join(INPUT_FORMATS)}", param_hint="--format"
        )
    return fmt


def _ids(counts: dict) -> str:
    """Spacecraft ids with their counts: ``0x2A5 (12), 0x2A6 (3)``."""
    return ", ".join(f"0x{int(s):03X} ({n})" for s, n in sorted(counts.items()))


def _id_list(counts: dict) -> str:
    """Spacecraft ids alone: ``0x2A5, 0x2A6``."""
    return ", ".join(f"0x{int(s):03X}" for s in sorted(counts))


def link_lines(stats: IngestStats, spacecraft_id: int) -> list[str]:
    """What the link layer did, and the packets of other spacecraft, for people."""
    lines = []
    if stats.foreign_packets:
        lines.append(
            f"refused {sum(stats.foreign_packets.values())} packets of other spacecraft "
            f"(their secondary header's spacecraft id): {_ids(stats.foreign_packets)}; this "
            f"ground station accepts spacecraft 0x{spacecraft_id:03X} (--spacecraft-id)"
        )
    k = stats.link
    if not k:
        return lines
    if k.get("cadus") or "cadu" in stats.formats.values():
        lines.append(
            f"link: {k['cadus']} CADUs ({k['inverted_cadus']} inverted, {k['sync_losses']} "
            f"sync losses, {k['bytes_skipped']} bytes skipped); Reed-Solomon corrected "
            f"{k['symbols_corrected']} symbols in {k['codewords_corrected']} codewords, "
            f"{k['codeblocks_uncorrectable']} codeblocks uncorrectable (dropped)"
        )
    lost = sum(k.get("vc_frames_lost", {}).values())
    lines.append(
        f"frames: {k['frames']} accepted, {k['fecf_errors']} FECF errors, {k['idle_frames']} "
        f"idle; {sum(k.get('vc_gaps', {}).values())} frame-count gaps ({lost} frames lost), "
        f"{k['partial_packets_dropped']} partial packets dropped, "
        f"{k['fhp_mismatches']} header-pointer mismatches"
    )
    foreign = k.get("foreign_frames", {})
    if foreign:
        lines.append(
            f"refused {sum(foreign.values())} frames of other spacecraft: {_ids(foreign)}; this "
            f"ground station accepts spacecraft 0x{spacecraft_id:03X} (--spacecraft-id)"
        )
    return lines


def check_refusals(stats: IngestStats, spacecraft_id: int) -> None:
    """No valid packet: one error naming why (other spacecraft, another wire-format version,
    nothing decodable). Valid packets beside packets of another spacecraft: one error
    saying those were refused (the rest was ingested)."""
    packets = stats.foreign_packets
    if stats.valid_packets:
        if packets:
            raise ForeignPacketsError(
                f"refused {sum(packets.values())} packets of spacecraft {_id_list(packets)}, not "
                f"0x{spacecraft_id:03X} (set --spacecraft-id if this catalogue is for that "
                "spacecraft); the rest of the input is ingested"
            )
        return
    d = stats.deframe
    for what, counts in (("frames", stats.link.get("foreign_frames", {})), ("packets", packets)):
        if counts:
            raise NoPacketsError(
                f"no valid packet: {sum(counts.values())} {what} came from spacecraft "
                f"{_id_list(counts)}, not 0x{spacecraft_id:03X}; they were refused (set "
                "--spacecraft-id if this catalogue is for that spacecraft)"
            )
    fmts = sorted(set(stats.formats.values()))
    versions = stats.malformed.get("secondary header version", 0)
    if versions:
        raise NoPacketsError(
            f"no valid packet in {stats.input_bytes} bytes of input: {versions} packets "
            f"pass their CRC but are of another wire-format version (this ground station "
            f"reads version {FORMAT_VERSION}: triage/WIRE_FORMAT.md)"
        )
    raise NoPacketsError(
        f"no valid packet in {stats.input_bytes} bytes of input read "
        f"as {'/'.join(fmts) or 'packets'} ({d.crc_errors} CRC errors, {d.skipped_bytes} bytes "
        "skipped); if it is another format, say which with --format"
    )


__all__ = [
    "DEFAULT_SPACECRAFT_ID",
    "DecodeOption",
    "FormatOption",
    "SpacecraftOption",
    "check_format",
    "check_refusals",
    "link_lines",
]
