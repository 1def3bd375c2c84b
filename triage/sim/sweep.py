"""Trade studies: ``triage sweep SPEC --out DIR``, every point a simulation, on Dask.

A sweep spec (JSON, validated like the manifest) names a base manifest and the axes to
vary; the points are every combination of the axes' values:

- ``link_rate_bps``: downlink rates (bit/s);
- ``stations``: lists of ground station names (``svalbard``, ``delft``, or the base
  manifest's own);
- ``min_elevation_deg``: the elevation mask of every station (degrees; contact windows
  are computed from the TLE, so the base manifest needs one);
- ``ship_crop_min_prob``, ``discard_sea_min_prob``, ``discard_cloud_min_prob``: the
  decision thresholds (``onboard.policy``; null: never discard);
- ``cloud_mean``: mean cloud fraction laid over the frames (0: no cloud);
- ``scenario``: ``ports`` or ``maritime`` (the base manifest's scenario of that kind);
- ``satellites``: satellites in the orbital plane;
- ``store_bytes``: the on-board product store.

Axes that change the frames (``cloud_mean``, ``scenario``) need a base manifest with a
``scenario``; its frames are then built once per distinct scenario and shared
(:func:`triage.sim.scenarios.realized`).

Each point is a pure function of the spec, the base manifest, the data, the firmware
and the classifier registry (every random draw is seeded in the manifest), so a point
gives the same metrics run alone, serially or on any worker of a cluster (tested).

Execution: a local Dask cluster of ``--workers`` processes by default, ``--scheduler
ADDRESS`` for an existing one (its workers need this repository, its build and the data
at the same paths), or ``--serial`` (no Dask). A worker lost while running a point has
its point retried on another worker (Dask reschedules it; up to
``ALLOWED_FAILURES`` losses per point); a point that fails with an error is retried once
and then recorded as failed: the sweep finishes and names every failed point.

Output, written beside ``DIR`` and renamed to ``DIR`` only when complete:
``results.csv`` (one row per point: its axis values, status, the headline metrics), or
with ``--format parquet`` ``results.parquet`` (the same rows, typed columns:
:data:`COLUMN_TYPES`; absent values are nulls),
``results.json`` (the same, with the spec and the timing: wall time, points per minute
and frames simulated per second), ``points/<id>.json`` (every
point's full ``metrics.json``) and ``report.html`` (Pareto front of ships delivered
against bytes sent and its knee, first-pass ships, latency against link rate, cloud
cover against reduction, the table).
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from triage.errors import TriageError
from triage.sim.build import LINKS, STATIONS
from triage.sim.classifiers import AUTO
from triage.sim.manifest import (
    CloudSpec,
    Manifest,
    PolicyThresholds,
    Scenario,
    dump_manifest,
    load_manifest,
    resolve_path,
)
from triage.sim.runner import run_simulation
from triage.sim.sweep_report import write_sweep_report

SWEEP_FORMAT = "triage-sweep"
MAX_POINTS = 4096
ALLOWED_FAILURES = 3  # worker losses a point survives (distributed.scheduler.allowed-failures)
FAULT_ENV = "TRIAGE_SWEEP_FAULT_ONCE"
"""Fault injection for tests: a file path; the first point that finds the file there
deletes it and kills its worker process (as a crash or an OOM kill would)."""

AXES = (
    "link_rate_bps",
    "stations",
    "min_elevation_deg",
    "ship_crop_min_prob",
    "discard_sea_min_prob",
    "discard_cloud_min_prob",
    "cloud_mean",
    "scenario",
    "satellites",
    "store_bytes",
)
COLUMNS = (
    "frames",
    "raw_bytes",
    "sent_bytes",
    "reduction_factor",
    "ships_labelled",
    "ships_delivered",
    "ship_recall",
    "ships_visible",
    "ship_recall_visible",
    "crop_precision",
    "first_pass_ships",
    "raw_first_pass_ships",
    "compressed_first_pass_ships",
    "latency_s_mean",
    "latency_s_max",
    "budget_utilization",
    "cloud_fraction_mean",
    "sample",
    "targets_missed",
    "runtime_s",
)


TABLE_FORMATS = ("csv", "parquet")
# The results table's column types (Parquet; CSV holds the same values as text). Stations
# are joined with "+", like ``targets_missed``.
_INT, _FLOAT, _STR = "int64", "float64", "string"
COLUMN_TYPES: dict[str, str] = {
    "point": _STR,
    "status": _STR,
    "link_rate_bps": _INT,
    "stations": _STR,
    "min_elevation_deg": _FLOAT,
    "ship_crop_min_prob": _FLOAT,
    "discard_sea_min_prob": _FLOAT,
    "discard_cloud_min_prob": _FLOAT,
    "cloud_mean": _FLOAT,
    "scenario": _STR,
    "satellites": _INT,
    "store_bytes": _INT,
    "frames": _INT,
    "raw_bytes": _INT,
    "sent_bytes": _INT,
    "reduction_factor": _FLOAT,
    "ships_labelled": _INT,
    "ships_delivered": _INT,
    "ship_recall": _FLOAT,
    "ships_visible": _INT,
    "ship_recall_visible": _FLOAT,
    "crop_precision": _FLOAT,
    "first_pass_ships": _INT,
    "raw_first_pass_ships": _INT,
    "compressed_first_pass_ships": _INT,
    "latency_s_mean": _FLOAT,
    "latency_s_max": _FLOAT,
    "budget_utilization": _FLOAT,
    "cloud_fraction_mean": _FLOAT,
    "sample": _STR,
    "targets_missed": _STR,
    "runtime_s": _FLOAT,
    "error": _STR,
}


class SweepError(TriageError, ValueError):
    """The sweep spec is invalid, its scheduler does not answer, or its output cannot be
    written."""


class Axes(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    link_rate_bps: list[int] | None = Field(default=None, min_length=1)
    stations: list[list[str]] | None = Field(default=None, min_length=1)
    min_elevation_deg: list[float] | None = Field(default=None, min_length=1)
    ship_crop_min_prob: list[float] | None = Field(default=None, min_length=1)
    discard_sea_min_prob: list[float | None] | None = Field(default=None, min_length=1)
    discard_cloud_min_prob: list[float | None] | None = Field(default=None, min_length=1)
    cloud_mean: list[float] | None = Field(default=None, min_length=1)
    scenario: list[Literal["ports", "maritime"]] | None = Field(default=None, min_length=1)
    satellites: list[int] | None = Field(default=None, min_length=1)
    store_bytes: list[int] | None = Field(default=None, min_length=1)

    @field_validator("link_rate_bps")
    @classmethod
    def _rates(cls, v):
        for r in v or []:
            if not 1 <= r <= 10_000_000_000:
                raise ValueError(f"link rate {r} bit/s is not in 1 .. 10,000,000,000")
        return _unique(v)

    @field_validator("ship_crop_min_prob", "discard_sea_min_prob", "discard_cloud_min_prob")
    @classmethod
    def _probs(cls, v):
        for p in v or []:
            if p is not None and not 0.0 <= p <= 1.0:
                raise ValueError(f"{p} is not a probability")
        return _unique(v)

    @field_validator("cloud_mean")
    @classmethod
    def _cloud(cls, v):
        for p in v or []:
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"cloud mean {p} is not in 0 .. 1")
        return _unique(v)

    @field_validator("min_elevation_deg")
    @classmethod
    def _masks(cls, v):
        for e in v or []:
            if not 0.0 <= e < 90.0:
                raise ValueError(f"elevation mask {e} deg is not in 0 .. 90")
        return _unique(v)

    @field_validator("satellites")
    @classmethod
    def _sats(cls, v):
        for n in v or []:
            if not 1 <= n <= 16:
                raise ValueError(f"{n} satellites is not in 1 .. 16")
        return _unique(v)

    @field_validator("store_bytes")
    @classmethod
    def _store(cls, v):
        for n in v or []:
            if not 256 * 1024 <= n <= 64 * 1024 * 1024:
                raise ValueError(f"store of {n} bytes is not in 256 KiB .. 64 MiB")
        return _unique(v)

    @field_validator("stations", "scenario")
    @classmethod
    def _distinct(cls, v):
        return _unique(v)

    def values(self) -> dict[str, list]:
        return {k: getattr(self, k) for k in AXES if getattr(self, k) is not None}


def _unique(v):
    if v is None:
        return v
    keys = [json.dumps(x) for x in v]
    if len(set(keys)) != len(keys):
        raise ValueError("values repeat")
    return v


class SweepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["triage-sweep"] = SWEEP_FORMAT
    version: Literal[1] = 1
    name: str = Field(min_length=1)
    base: str = Field(min_length=1, description="base manifest, relative to the spec")
    axes: Axes
    model: str = Field(default=AUTO, description="classifier choice, as triage simulate --model")

    @model_validator(mode="after")
    def _size(self) -> SweepSpec:
        vals = self.axes.values()
        if not vals:
            raise ValueError("axes: give at least one axis")
        n = math.prod(len(v) for v in vals.values())
        if n > MAX_POINTS:
            raise ValueError(f"axes make {n} points, more than {MAX_POINTS}")
        return self

    def points(self) -> list[dict]:
        vals = self.axes.values()
        names = list(vals)
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*vals.values())]


def load_spec(path: Path) -> tuple[SweepSpec, Manifest]:
    """The spec and its base manifest, both validated; :class:`SweepError` naming the
    field at fault."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError(f"sweep spec not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(f"sweep spec {path} cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise SweepError(
            f"sweep spec {path} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        errs = []
        for e in exc.errors()[:6]:
            loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
            errs.append(f"{loc}: {e['msg']}")
        raise SweepError(f"sweep spec {path} does not validate: " + "; ".join(errs)) from None
    base_path = resolve_path(spec.base, path.resolve().parent)
    try:
        base = load_manifest(base_path)
    except TriageError as exc:
        raise SweepError(f"sweep spec {path}: base: {exc}") from None
    _check_axes(spec, base, path)
    return spec, base


def _check_axes(spec: SweepSpec, base: Manifest, path: Path) -> None:
    known = {**STATIONS, **{s.name: s for s in base.stations}}
    for names in spec.axes.stations or []:
        unknown = [n for n in names if n not in known]
        if unknown or not names:
            raise SweepError(
                f"sweep spec {path}: axes.stations: unknown station {', '.join(unknown) or '[]'}"
                f" (known: {', '.join(sorted(known))})"
            )
    if (spec.axes.cloud_mean or spec.axes.scenario) and base.scenario is None:
        raise SweepError(
            f"sweep spec {path}: axes cloud_mean and scenario rebuild the frames: the base "
            "manifest needs a scenario (triage imageset ports/maritime write one)"
        )
    if spec.axes.satellites and max(spec.axes.satellites) > 1 and base.orbit.tle is None:
        raise SweepError(f"sweep spec {path}: axes.satellites needs a base manifest with a TLE")
    if spec.axes.min_elevation_deg and base.orbit.tle is None:
        raise SweepError(
            f"sweep spec {path}: axes.min_elevation_deg needs a base manifest with a TLE (an "
            "explicit pass list has no contact windows to mask)"
        )


def point_id(i: int) -> str:
    return f"p{i:04d}"


def point_manifest(base: Manifest, point: dict) -> Manifest:
    """The base manifest with one point's axis values."""
    m = base
    upd: dict = {}
    if "link_rate_bps" in point:
        r = int(point["link_rate_bps"])
        named = [k.name for k in LINKS.values() if k.rate_bps == r]
        upd["link"] = m.link.model_copy(
            update={"rate_bps": r, "name": named[0] if named else f"{r:,} bit/s"}
        )
    if "stations" in point:
        known = {**STATIONS, **{s.name: s for s in m.stations}}
        upd["stations"] = [known[n] for n in point["stations"]]
    if "min_elevation_deg" in point:
        mask = float(point["min_elevation_deg"])
        upd["stations"] = [
            s.model_copy(update={"min_elevation_deg": mask})
            for s in upd.get("stations", m.stations)
        ]
    pol_keys = ("ship_crop_min_prob", "discard_sea_min_prob", "discard_cloud_min_prob")
    if any(k in point for k in pol_keys):
        old = m.onboard.policy or PolicyThresholds()
        discard = dict(old.discard_min_prob)
        if "discard_sea_min_prob" in point:
            discard["sea"] = point["discard_sea_min_prob"]
        if "discard_cloud_min_prob" in point:
            discard["cloud"] = point["discard_cloud_min_prob"]
        pol = PolicyThresholds(
            ship_crop_min_prob=point.get("ship_crop_min_prob", old.ship_crop_min_prob),
            discard_min_prob=discard,
        )
        upd["onboard"] = m.onboard.model_copy(update={"policy": pol})
    if "store_bytes" in point:
        onboard = upd.get("onboard", m.onboard)
        upd["onboard"] = onboard.model_copy(update={"store_capacity_bytes": point["store_bytes"]})
    if "satellites" in point:
        upd["orbit"] = m.orbit.model_copy(update={"satellites": int(point["satellites"])})
    if "cloud_mean" in point or "scenario" in point:
        sc: Scenario = m.scenario  # type: ignore[assignment]
        supd: dict = {}
        if "scenario" in point:
            supd["kind"] = point["scenario"]
            if point["scenario"] == "ports":
                supd["maritime"] = None
            else:
                supd["ports"] = None
                supd["maritime"] = sc.maritime_spec
        if "cloud_mean" in point:
            v = float(point["cloud_mean"])
            clouds = sc.clouds or CloudSpec()
            supd["clouds"] = None if v == 0.0 else clouds.model_copy(update={"mean": v})
        upd["scenario"] = sc.model_copy(update=supd)
        upd["frames"] = []  # built from the scenario
    out = m.model_copy(update=upd)
    return Manifest.model_validate(out.model_dump())  # the point's manifest validates


def absolute_paths(m: Manifest, folder: Path) -> Manifest:
    """The manifest with its frames' relative paths made absolute (from ``folder``)."""

    def fix(p: str) -> str:
        return p if p.startswith("data:") or Path(p).is_absolute() else str(folder / p)

    frames = []
    for f in m.frames:
        bands = {k: b.model_copy(update={"path": fix(b.path)}) for k, b in f.bands.items()}
        labels = f.labels.model_copy(update={"path": fix(f.labels.path)}) if f.labels else None
        frames.append(f.model_copy(update={"bands": bands, "labels": labels}))
    return m.model_copy(update={"frames": frames})


def run_point(base_json: str, point: dict, model: str, registry: str | None) -> dict:
    """One point: its manifest simulated in a temporary folder; its metrics.json. Runs in a
    worker process (everything it needs is in its arguments; the base manifest's paths are
    absolute)."""
    marker = os.environ.get(FAULT_ENV)
    if marker and Path(marker).exists():
        try:
            Path(marker).unlink()
        except FileNotFoundError:
            pass
        else:
            os._exit(70)  # the worker dies mid-point
    base = Manifest.model_validate_json(base_json)
    m = point_manifest(base, point)
    with tempfile.TemporaryDirectory(prefix="triage-point-") as tmp:
        mpath = Path(tmp) / "manifest.json"
        dump_manifest(m, mpath)
        res = run_simulation(
            mpath,
            Path(tmp) / "run",
            model=model,
            classifiers=Path(registry) if registry else None,
            write_html=False,
        )
        return res.metrics()


def row_of(i: int, point: dict, metrics: dict | None, error: str | None) -> dict:
    row: dict = {"point": point_id(i), "status": "ok" if error is None else "failed"}
    for k in AXES:
        if k in point:
            v = point[k]
            row[k] = "+".join(v) if isinstance(v, list) else v
    if metrics is not None:
        b = metrics.get("baselines", {})
        clouds = [
            f["cloud_fraction"]
            for f in metrics.get("per_frame", [])
            if f.get("cloud_fraction") is not None
        ]
        vals = {
            **{k: metrics.get(k) for k in COLUMNS},
            "raw_first_pass_ships": b.get("raw", {}).get("first_pass_ships"),
            "compressed_first_pass_ships": b.get("compressed", {}).get("first_pass_ships"),
            "cloud_fraction_mean": round(sum(clouds) / len(clouds), 4) if clouds else None,
            "sample": metrics.get("classifiers", {}).get("sample"),
            "targets_missed": "+".join(
                k for k, t in metrics.get("targets", {}).items() if not t["met"]
            ),
        }
        row.update(vals)
    row["error"] = error
    return row


def _connect(scheduler: str | None, workers: int):
    """(client, cluster or None); :class:`SweepError` when the scheduler does not answer."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            return Client(scheduler, timeout="10s"), None
        except (OSError, TimeoutError) as exc:
            raise SweepError(f"the Dask scheduler at {scheduler} does not answer: {exc}") from None
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=50,
    )
    return Client(cluster), cluster


def run_sweep(
    spec_path: Path,
    out: Path,
    *,
    workers: int = 2,
    scheduler: str | None = None,
    serial: bool = False,
    overwrite: bool = False,
    registry: Path | None = None,
    progress=None,
    table_format: str = "csv",
) -> dict:
    """Run a sweep; write ``out`` (see the module docstring; the results table as
    ``table_format``, one of :data:`TABLE_FORMATS`); its summary."""
    import dask

    if table_format not in TABLE_FORMATS:
        raise SweepError(
            f"unknown table format {table_format!r} (known: {', '.join(TABLE_FORMATS)})"
        )
    spec, base = load_spec(spec_path)
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not overwrite)):
        raise SweepError(f"output folder {out} exists and is not empty (or --overwrite)")
    points = spec.points()
    base_dir = resolve_path(spec.base, Path(spec_path).resolve().parent).parent
    base_json = absolute_paths(base, base_dir).model_dump_json()
    reg = str(Path(registry).resolve()) if registry else None
    # every point's manifest validates before anything runs
    for i, p in enumerate(points):
        try:
            point_manifest(base, p)
        except (ValidationError, TriageError) as exc:
            raise SweepError(f"point {point_id(i)} ({p}): {exc}") from None
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    out.parent.mkdir(parents=True, exist_ok=True)
    if tmp.exists():
        shutil.rmtree(tmp)
    t0 = time.perf_counter()
    results: dict[int, tuple[dict | None, str | None]] = {}
    mode = "serial"
    client = cluster = None
    try:
        if not serial:
            client, cluster = _connect(scheduler, workers)
            mode = f"scheduler {scheduler}" if scheduler else f"local cluster, {workers} workers"
        tmp.mkdir()
        (tmp / "points").mkdir()
        if serial:
            for i, p in enumerate(points):
                results[i] = _serial_point(base_json, p, spec.model, reg)
                if progress:
                    progress(len(results), len(points))
        else:
            with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
                results = _cluster_points(client, base_json, points, spec.model, reg, progress)
        wall = time.perf_counter() - t0
        summary = _write(tmp, spec, points, results, wall, mode, table_format)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
        return summary
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def _serial_point(base_json, p, model, reg) -> tuple[dict | None, str | None]:
    try:
        return run_point(base_json, p, model, reg), None
    except TriageError as exc:
        return None, str(exc)


def _cluster_points(client, base_json, points, model, reg, progress):
    from distributed import as_completed

    futures = {}
    for i, p in enumerate(points):
        f = client.submit(
            run_point,
            base_json,
            p,
            model,
            reg,
            key=f"triage-point-{i}-{os.getpid()}",
            retries=1,
            pure=False,
        )
        futures[f.key] = (i, f)
    results = {}
    for f in as_completed([f for _, f in futures.values()]):
        i, _ = futures[f.key]
        if f.status == "finished":
            results[i] = (f.result(), None)
        else:
            exc = f.exception()
            name = type(exc).__name__
            if name == "KilledWorker":
                msg = f"its worker was lost {ALLOWED_FAILURES + 1} times (KilledWorker)"
            else:
                msg = f"{name}: {exc}"
            results[i] = (None, msg)
        if progress:
            progress(len(results), len(points))
    return results


def write_table(rows: list[dict], fields: list[str], folder: Path, table_format: str) -> Path:
    """The results table ``folder/results.<csv|parquet>`` of ``rows`` (columns ``fields``,
    typed by :data:`COLUMN_TYPES`; a value a row lacks or holds as None is empty in CSV
    and null in Parquet); its path."""
    if table_format == "csv":
        path = folder / "results.csv"
        with open(path, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow(r)
        return path
    if table_format != "parquet":
        raise SweepError(
            f"unknown table format {table_format!r} (known: {', '.join(TABLE_FORMATS)})"
        )
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(f, pa.type_for_alias(COLUMN_TYPES[f])) for f in fields])

    def cell(f: str, v):
        # an integral count may reach us as a float (3.0): the int column takes it exactly
        if COLUMN_TYPES[f] == _INT and isinstance(v, float) and v.is_integer():
            return int(v)
        return v

    columns = {f: [cell(f, r.get(f)) for r in rows] for f in fields}
    try:
        table = pa.Table.from_pydict(columns, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise SweepError(f"results table: a value does not fit its column type: {exc}") from None
    path = folder / "results.parquet"
    pq.write_table(table, path)
    return path


def _write(
    tmp: Path, spec, points, results, wall: float, mode: str, table_format: str = "csv"
) -> dict:
    rows = []
    for i, p in enumerate(points):
        metrics, err = results[i]
        rows.append(row_of(i, p, metrics, err))
        if metrics is not None:
            (tmp / "points" / f"{point_id(i)}.json").write_text(json.dumps(metrics, indent=1))
    axes = [k for k in AXES if k in points[0]]
    fields = ["point", "status", *axes, *COLUMNS, "error"]
    table = write_table(rows, fields, tmp, table_format)
    failed = [r for r in rows if r["status"] != "ok"]
    frames = sum(int(m["frames"]) for m, _ in results.values() if m is not None)
    summary = {
        "name": spec.name,
        "points": len(points),
        "failed": [{"point": r["point"], "error": r["error"]} for r in failed],
        "wall_s": round(wall, 1),
        "points_per_minute": round(60.0 * len(points) / wall, 2) if wall > 0 else None,
        "frames": frames,
        "frames_per_s": round(frames / wall, 3) if wall > 0 else None,
        "mode": mode,
        "table": table.name,
    }
    (tmp / "results.json").write_text(
        json.dumps({"spec": spec.model_dump(), "summary": summary, "rows": rows}, indent=1)
    )
    write_sweep_report(tmp / "report.html", spec, rows, summary)
    return summary
