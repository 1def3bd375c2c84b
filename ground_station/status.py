"""Catalogue summary: frames, products complete/incomplete, bytes, missing segments."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from ground_station.catalogue import Catalogue
from triage.contract.enums import Refusal


def catalogue_status(db: str | os.PathLike, *, list_incomplete: int = 50) -> dict:
    """A JSON-ready summary of the catalogue ``db``.

    ``list_incomplete`` caps how many incomplete products are listed with
    their missing segment ranges (the totals always count all of them).
    """
    with Catalogue.open(db) as cat:
        con = cat.con
        by_status = dict(con.execute("SELECT status, count(*) FROM products GROUP BY status"))
        by_type: dict[str, dict[str, int]] = {}
        for ptype, status, n in con.execute(
            "SELECT product_type, status, count(*) FROM products GROUP BY product_type, status"
        ):
            by_type.setdefault(ptype, {})[status] = n
        seg_n, seg_bytes = con.execute(
            "SELECT count(*), coalesce(sum(length), 0) FROM segments"
        ).fetchone()
        missing_total = con.execute(
            "SELECT coalesce(sum(segment_count - segments_received), 0) FROM products "
            "WHERE status='incomplete'"
        ).fetchone()[0]
        incomplete = []
        for row in cat.product_rows("status='incomplete'")[:list_incomplete]:
            incomplete.append(
                {
                    "frame_id": row["frame_id"],
                    "product_id": row["product_id"],
                    "product_type": row["product_type"],
                    "segments": f"{row['segments_received']}/{row['segment_count']}",
                    "missing": [
                        list(r) for r in cat.missing_ranges(row["id"], row["segment_count"])
                    ],
                }
            )
        invalid = [
            {
                "frame_id": r["frame_id"],
                "product_id": r["product_id"],
                "reason": r["reason"],
                "failure": r.get("failure"),
                "rebuilds": r.get("rebuilds", 0),
                "given_up": r.get("given_up"),
            }
            for r in cat.product_rows("status='invalid'")
        ]
        latest = cat.latest_directory()
        directory = None
        if latest is not None:
            d, entries = latest
            directory = {
                "product_id": d["product_id"],
                "time": datetime.fromtimestamp(d["time_s"], UTC).isoformat(),
                "entries": len(entries),
                "bytes_on_board": sum(e["product_bytes"] for e in entries),
            }
        runs = con.execute("SELECT count(*) FROM ingest_runs").fetchone()[0]
        last = con.execute(
            "SELECT source, finished, stats FROM ingest_runs WHERE finished IS NOT NULL "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
        frames = con.execute("SELECT count(*) FROM frames").fetchone()[0]
        # which model classified each frame (its FRAME_SUMMARY), and the products of those
        # frames
        have = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        models = (
            [
                {"model_id": mid, "model_sha256": sha, "frames": nf, "products": np_}
                for mid, sha, nf, np_ in con.execute(
                    "SELECT m.model_id, m.model_sha256, count(DISTINCT m.frame_id), "
                    "(SELECT count(*) FROM products p WHERE p.frame_id IN "
                    " (SELECT frame_id FROM frame_models f WHERE f.model_id = m.model_id "
                    "  AND f.model_sha256 = m.model_sha256)) "
                    "FROM frame_models m GROUP BY m.model_id, m.model_sha256 ORDER BY m.model_id"
                )
            ]
            if "frame_models" in have
            else []
        )  # schema 3 on (a reader opens older ones)
        model_status = None
        row = con.execute(
            "SELECT frame_id, product_id FROM products WHERE product_type='MODEL_STATUS' "
            "AND status='complete' ORDER BY frame_id DESC, time_s DESC, time_sub DESC, "
            "product_id DESC LIMIT 1"
        ).fetchone()
        if row is not None:
            rec = cat.load_product(row[0], row[1]).records[0]
            model_status = {
                k: rec[k]
                for k in ("boot_count", "active", "trial", "active_model_id",
                          "active_model_sha256", "arsn", "accepted", "commits", "fallbacks")
            }  # fmt: skip
            model_status["refusals"] = {
                r.name: int(rec["refusals"][r - 1]) for r in Refusal if rec["refusals"][r - 1]
            }
        uplinks = [
            dict(zip(("kind", "key_id", "arsn", "model_id", "package_sha256", "created"), r,
                     strict=True))
            for r in con.execute(
                "SELECT kind, key_id, arsn, model_id, package_sha256, created FROM "
                "model_uplinks ORDER BY id"
            )
        ] if "model_uplinks" in have else []  # fmt: skip
        return {
            "catalogue": str(cat.path),
            "frames": frames,
            "products": {
                "complete": by_status.get("complete", 0),
                "incomplete": by_status.get("incomplete", 0),
                "invalid": by_status.get("invalid", 0),
                "by_type": by_type,
            },
            "segments_received": seg_n,
            "bytes_received": seg_bytes,
            "missing_segments": missing_total,
            "incomplete": incomplete,
            "invalid": invalid,
            "store_directory": directory,
            "models": models,
            "model_status": model_status,
            "model_uplinks": uplinks,
            "ingest_runs": runs,
            "last_ingest": None
            if last is None
            else {"source": json.loads(last[0]), "finished": last[1], "stats": json.loads(last[2])},
        }
