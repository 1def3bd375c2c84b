"""Two real Sentinel-2 ports through the whole chain, recall recounted against the COCO labels.

Skips without the imagery. The recount is independent of the simulator's scoring: it
reads the ground's exported crop GeoTIFFs and the ports' label files and band GeoTIFFs.
"""

from __future__ import annotations

import json

import pytest
import rasterio

from triage.sim.build import build_real_manifest
from triage.sim.manifest import dump_manifest
from triage.sim.runner import run_simulation

PORTS = ("honolulu", "casablanca")


def _out_of_sample_delivered() -> int:
    """Ships of PORTS the leave-ports-out evaluation delivers out of sample
    (models/shipped/evaluation.json): the shipped model, which trained on these ports,
    run through the whole chain must deliver at least as many."""
    from triage.contract import paths

    ev = json.loads((paths.shipped_dir() / "evaluation.json").read_text())
    return sum(round(ev["per_port"][p]["ship_recall"] * ev["per_port"][p]["ships"]) for p in PORTS)


@pytest.mark.realdata
def test_real_ports_recall(data_dir, tmp_path):
    manifest, _ = build_real_manifest(data_dir, ports=PORTS)
    path = tmp_path / "ports.json"
    dump_manifest(manifest, path)
    out = tmp_path / "run"
    run_simulation(path, out)
    m = json.loads((out / "metrics.json").read_text())

    # A crop keeps only its cells' pixels (the rest of its box is no-data): a ship counts
    # as delivered when the pixel under its centre holds data in some crop.
    crops = []
    for p in sorted((out / "ground" / "export" / "crops").glob("*.tif")):
        with rasterio.open(p) as ds:
            crops.append((ds.bounds, ds.transform, ds.read(1), ds.nodata))
    labelled = delivered = 0
    for port in PORTS:
        coco = json.loads((data_dir / "sen2ships" / port / "ships.coco.json").read_text())
        with rasterio.open(data_dir / "sen2ships" / port / "B02.tif") as ds:
            tf = ds.transform
        for a in coco["annotations"]:
            x, y, w, h = a["bbox"]
            cx, cy = tf @ (x + w / 2, y + h / 2)
            labelled += 1
            for b, ctf, band, nodata in crops:
                if b.left <= cx < b.right and b.bottom < cy <= b.top:
                    col, row = (~ctf) @ (cx, cy)
                    if band[int(row), int(col)] != nodata:
                        delivered += 1
                        break
    assert (m["ships_labelled"], m["ships_delivered"]) == (labelled, delivered)
    assert m["ground"]["crops_bit_exact"] == m["ground"]["crops_exported"] == len(crops)
    assert (
        "contains modified Copernicus Sentinel data 2022–2023" in (out / "report.html").read_text()
    )
    floor = _out_of_sample_delivered()
    assert delivered >= floor, f"delivered {delivered}/{labelled}, out of sample {floor}"
