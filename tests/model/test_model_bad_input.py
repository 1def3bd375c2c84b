"""Bad input: missing folders and files, wrong band size or type: a clear error naming the file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from triage_models import sources
from triage_models.dataset import load_or_build

from triage.contract.errors import DataMissingError, InputDataError

BIN = Path(sys.executable).parent


def _write_band(path: Path, arr: np.ndarray) -> None:
    import rasterio
    from rasterio.transform import Affine

    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=arr.shape[1],
        height=arr.shape[0],
        count=1,
        dtype=arr.dtype,
        crs="EPSG:3857",
        transform=Affine(10.0, 0.0, 0.0, 0.0, -10.0, 0.0),
    ) as dst:
        dst.write(arr, 1)


def _fake_port(root: Path, name: str = "algiers", h: int = 40, w: int = 48) -> Path:
    folder = root / "sen2ships" / name
    folder.mkdir(parents=True)
    for band in ("B02", "B03", "B04", "B08", "B11"):
        _write_band(folder / f"{band}.tif", np.full((h, w), 1000, np.uint16))
    (folder / "ships.coco.json").write_text(
        '{"images": [], "annotations": [{"bbox": [4, 4, 6, 8]}]}'
    )
    return folder


def test_small_synthetic_port_reads(tmp_path):
    _fake_port(tmp_path)
    scene = sources.read_port(tmp_path, "algiers")
    assert scene.frame.shape == (40, 48, 4)
    assert scene.boxes.tolist() == [[4, 4, 6, 8]]


def test_missing_data_dir(tmp_path):
    with pytest.raises(DataMissingError, match="nowhere"):
        load_or_build(tmp_path / "nowhere")


def test_port_without_a_band(tmp_path):
    folder = _fake_port(tmp_path)
    (folder / "B08.tif").unlink()
    with pytest.raises(DataMissingError, match=r"B08\.tif"):
        sources.read_port(tmp_path, "algiers")


def test_band_of_wrong_size(tmp_path):
    folder = _fake_port(tmp_path)
    _write_band(folder / "B03.tif", np.zeros((40, 47), np.uint16))
    with pytest.raises(InputDataError, match=r"B03\.tif.*size"):
        sources.read_port(tmp_path, "algiers")


def test_band_of_wrong_type(tmp_path):
    folder = _fake_port(tmp_path)
    _write_band(folder / "B04.tif", np.zeros((40, 48), np.float32))
    with pytest.raises(InputDataError, match=r"B04\.tif.*uint16"):
        sources.read_port(tmp_path, "algiers")


def test_box_outside_the_grid(tmp_path):
    folder = _fake_port(tmp_path)
    (folder / "ships.coco.json").write_text('{"annotations": [{"bbox": [40, 4, 20, 8]}]}')
    with pytest.raises(InputDataError, match=r"ships\.coco\.json"):
        sources.read_port(tmp_path, "algiers")


def test_cli_reports_missing_data_dir(tmp_path):
    res = subprocess.run(
        [str(BIN / "triage"), "model", "build-dataset", "--data-dir", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ},
    )
    assert res.returncode == 1
    assert "triage: error:" in res.stderr and str(tmp_path / "none") in res.stderr


def test_cli_evaluate_without_model(tmp_path, data_dir):
    res = subprocess.run(
        [str(BIN / "triage"), "model", "evaluate", "--tflite", str(tmp_path / "none.tflite")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 1
    assert "none.tflite" in res.stderr and "triage model train" in res.stderr
