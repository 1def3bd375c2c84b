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
        [
            str(BIN / "triage"),
            "model",
            "evaluate",
            "--recipe",
            "tiles",
            "--tflite",
            str(tmp_path / "none.tflite"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 1
    assert "none.tflite" in res.stderr and "triage model train" in res.stderr


def test_cell_evaluation_without_a_trained_model(tmp_path, monkeypatch):
    # the provisional stand-in has no training record: there is no recipe to evaluate
    from triage_models import cellship, paths
    from triage_models.errors import ArtifactMissingError

    monkeypatch.setattr(paths, "shipped_dir", lambda: tmp_path)
    with pytest.raises(ArtifactMissingError, match=r"classifier\.tflite.*triage model train"):
        cellship.evaluate_and_write(None, tmp_path)
    (tmp_path / "classifier.tflite").write_bytes(b"")
    with pytest.raises(ArtifactMissingError, match=r"training\.json.*triage model train"):
        cellship.evaluate_and_write(None, tmp_path)


def test_tile_baseline_never_writes_the_shipped_folder():
    from triage_models import paths, shipping
    from triage_models.errors import RecipeError

    with pytest.raises(RecipeError, match="shipped cell network"):
        shipping.train_and_write(None, None, out_dir=paths.shipped_dir())
    with pytest.raises(RecipeError, match="shipped cell network"):
        shipping.evaluate_and_write(None, folder=paths.shipped_dir())


def _write_raster(path: Path, arr: np.ndarray, crs: str = "EPSG:32636", desc=None) -> None:
    import rasterio
    from rasterio.transform import Affine

    arr = arr.reshape(-1, *arr.shape[-2:])
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=arr.shape[2],
        height=arr.shape[1],
        count=arr.shape[0],
        dtype=arr.dtype,
        crs=crs,
        transform=Affine(10.0, 0.0, 0.0, 0.0, -10.0, 0.0),
    ) as dst:
        dst.write(arr)
        for i, d in enumerate(desc or []):
            dst.set_band_description(i + 1, d)


def _fake_chip(root: Path, dn: int = 1200) -> Path:
    folder = root / "clouds" / "oncloudn" / "chip_1"
    folder.mkdir(parents=True)
    for b in sources.ONCLOUDN_BANDS:
        _write_raster(folder / f"{b}.tif", np.full((32, 32), dn, np.uint16))
    label = np.zeros((32, 32), np.uint8)
    label[:, :16] = 1
    _write_raster(folder / "label.tif", label)
    return folder


def test_oncloudn_chip_reads_on_the_canonical_scale(tmp_path):
    _fake_chip(tmp_path)
    img = sources.read_oncloudn(tmp_path, "chip_1")
    # DN 1200 = reflectance 0.12 -> 0.12 * 65535 = 7864.2 -> 7864
    assert (img.frame == 7864).all()
    assert img.cloud[:, :16].all() and not img.cloud[:, 16:].any()


def test_oncloudn_chip_in_another_crs(tmp_path):
    folder = _fake_chip(tmp_path)
    _write_raster(folder / "B04.tif", np.full((32, 32), 1200, np.uint16), crs="EPSG:32637")
    with pytest.raises(InputDataError, match=r"B04\.tif.*CRS"):
        sources.read_oncloudn(tmp_path, "chip_1")


def test_oncloudn_chip_on_another_scale(tmp_path):
    # reflectance x 65535 read as x 10000: median 0.79 of reflectance -> refused
    _fake_chip(tmp_path, dn=52000)
    with pytest.raises(InputDataError, match=r"B02\.tif.*scale"):
        sources.read_oncloudn(tmp_path, "chip_1")


def test_oncloudn_mask_with_other_values(tmp_path):
    folder = _fake_chip(tmp_path)
    _write_raster(folder / "label.tif", np.full((32, 32), 255, np.uint8))
    with pytest.raises(InputDataError, match=r"label\.tif"):
        sources.read_oncloudn(tmp_path, "chip_1")


def _fake_coastal(root: Path, bands: int = 7, desc=sources.COASTAL_BANDS) -> Path:
    folder = root / "coastal"
    folder.mkdir(parents=True)
    arr = np.full((bands, 16, 16), 1300, np.uint16)
    arr[-1] = 6
    _write_raster(folder / "accra.tif", arr, desc=list(desc)[:bands])
    return folder


def test_coastal_chip_offset(tmp_path):
    _fake_coastal(tmp_path)
    chip = sources.read_coastal(tmp_path, "accra")
    # DN 1300 -> 1300 / 10000 - 0.1 = 0.03 -> 0.03 * 65535 = 1966.05 -> 1966
    assert (chip.frame == 1966).all() and (chip.scl == 6).all()


def test_coastal_chip_with_missing_bands(tmp_path):
    _fake_coastal(tmp_path, bands=6)
    with pytest.raises(InputDataError, match=r"accra\.tif.*7 bands"):
        sources.read_coastal(tmp_path, "accra")


def test_coastal_chip_bands_in_another_order(tmp_path):
    desc = ("B02", "B03", "B04", "B08", "B06", "B11", "SCL")
    _fake_coastal(tmp_path, desc=desc)
    with pytest.raises(InputDataError, match=r"accra\.tif.*descriptions"):
        sources.read_coastal(tmp_path, "accra")
