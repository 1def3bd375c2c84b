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
RECALL_TARGET = 0.95


@pytest.mark.realdata
def test_real_ports_recall(data_dir, tmp_path):
    manifest, _ = build_real_manifest(data_dir, ports=PORTS)
    path = tmp_path / "ports.json"
    dump_manifest(manifest, path)
    out = tmp_path / "run"
    run_simulation(path, out)
    m = json.loads((out / "metrics.json").read_text())

    crops = []
    for p in sorted((out / "ground" / "export" / "crops").glob("*.tif")):
        with rasterio.open(p) as ds:
            crops.append(ds.bounds)
    labelled = delivered = 0
    for port in PORTS:
        coco = json.loads((data_dir / "sen2ships" / port / "ships.coco.json").read_text())
        with rasterio.open(data_dir / "sen2ships" / port / "B02.tif") as ds:
            tf = ds.transform
        for a in coco["annotations"]:
            x, y, w, h = a["bbox"]
            cx, cy = tf @ (x + w / 2, y + h / 2)
            labelled += 1
            if any(b.left <= cx < b.right and b.bottom < cy <= b.top for b in crops):
                delivered += 1
    assert (m["ships_labelled"], m["ships_delivered"]) == (labelled, delivered)
    assert m["ground"]["crops_bit_exact"] == m["ground"]["crops_exported"] == len(crops)
    assert (
        "contains modified Copernicus Sentinel data 2022–2023" in (out / "report.html").read_text()
    )
    assert delivered / labelled >= RECALL_TARGET, f"recall {delivered}/{labelled}"
