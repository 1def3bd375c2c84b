"""The ground segment of a simulation: the one module of ``triage.sim`` that imports
``ground_station``.

The simulated ground is the operator's own library, called as at a real pass:

- :meth:`Ground.receive` ingests the packets that arrived (``ground_station.ingest``),
  :meth:`Ground.receive_cadus` the CADUs of the physical channel, bit errors and all;
- :meth:`Ground.plan` plans the pass within its budget and encodes the
  DOWNLINK_REQUEST to uplink (``ground_station.plan``);
- :meth:`Ground.ship_crop_masks` reads the complete ship crops back from the
  catalogue, decoded (``ground_station.catalogue``);
- :meth:`Ground.export` writes the georeferenced products (``ground_station.export``),
  with a report that says what each file holds (frame id, products, band roles);
- :meth:`Ground.uplink_model` and :meth:`Ground.uplink_command` write model telecommands
  as ``groundstation uplink`` does (``ground_station.uplink``), and
  :meth:`Ground.model_status` / :meth:`Ground.frame_models` read back what the catalogue
  holds of the satellite's MODEL_STATUS and of each frame's model
  (``ground_station.status``).

It also passes on what the rest of the simulator takes from the ground station,
so that each fact keeps its one definition: contact windows and pass budgets
(:mod:`triage.sim.link`), the link-layer constants that time packets, and the TLE
parser (:mod:`triage.sim.orbit`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ground_station.catalogue import Catalogue
from ground_station.errors import GroundStationError, TleError
from ground_station.export import PREVIEW, ExportedFile, ExportReport, export_products
from ground_station.ingest import ingest_bytes
from ground_station.passes import (
    ACQUISITION_S,
    CADU_BYTES,
    CADU_DATA_BYTES,
    ContactWindow,
    Station,
    contact_windows,
    parse_tle,
    pass_budget_bytes,
)
from ground_station.plan import plan_next_pass
from ground_station.status import catalogue_status
from ground_station.uplink import uplink_command, uplink_model
from triage.contract.packets import DEFAULT_SPACECRAFT_ID

__all__ = [
    "ACQUISITION_S",
    "CADU_BYTES",
    "CADU_DATA_BYTES",
    "PREVIEW",
    "ContactWindow",
    "ExportReport",
    "ExportedFile",
    "Ground",
    "GroundStationError",
    "Station",
    "TleError",
    "contact_windows",
    "parse_tle",
    "pass_budget_bytes",
]


class Ground:
    """The ground station's catalogue in ``folder`` for the spacecraft ``spacecraft_id``
    (another spacecraft's packets are refused, as the operator's ingest does), with the
    simulator's own counters."""

    def __init__(self, folder: Path, spacecraft_id: int = DEFAULT_SPACECRAFT_ID):
        self.folder = Path(folder)
        self.spacecraft_id = int(spacecraft_id)
        self.folder.mkdir()
        self.catalogue = self.folder / "catalogue.sqlite"
        self.counters: dict[str, int] = {
            "packets_received": 0,
            "ingest_malformed": 0,
            "ingest_duplicates": 0,
            "ingest_products_invalid": 0,
            "requests_uplinked": 0,
            "request_entries": 0,
        }

    def receive(self, packets: list[bytes], source: str) -> None:
        """Ingest the packets that reached the ground (``source`` names the pass)."""
        if packets:
            st = ingest_bytes(
                self.catalogue,
                b"".join(packets),
                source=source,
                spacecraft_id=self.spacecraft_id,
            )
            self.counters["ingest_malformed"] += sum(st.malformed.values())
            self.counters["ingest_duplicates"] += st.duplicates
            self.counters["ingest_products_invalid"] += st.products_invalid
        self.counters["packets_received"] += len(packets)

    def receive_cadus(self, cadus: bytes, source: str) -> dict:
        """Ingest a CADU stream as the receiver hands it over (the physical channel): sync,
        Reed-Solomon decoding, frame checks, packets; returns the link layer's counts."""
        st = ingest_bytes(
            self.catalogue,
            cadus,
            source=source,
            input_format="cadu",
            spacecraft_id=self.spacecraft_id,
        )
        self.counters["ingest_malformed"] += sum(st.malformed.values())
        self.counters["ingest_duplicates"] += st.duplicates
        self.counters["ingest_products_invalid"] += st.products_invalid
        self.counters["packets_received"] += st.deframe.packets
        return st.link

    def plan(
        self, window: ContactWindow, rate_bps: int, budget_bytes: int
    ) -> tuple[bytes | None, int]:
        """The DOWNLINK_REQUEST for the pass over ``window`` and its number of entries
        (None, 0 while the catalogue holds no store directory: nothing is uplinked, and the
        satellite sends its store in priority order)."""
        if not self.catalogue.exists():
            return None, 0
        plan, request = plan_next_pass(self.catalogue, window, rate_bps, budget_bytes=budget_bytes)
        if request is None:
            return None, 0
        entries = plan.request_entries
        self.counters["requests_uplinked"] += 1
        self.counters["request_entries"] += entries
        return request, entries

    def request_lost(self) -> None:
        """Count an uplinked request the channel lost."""
        self.counters["requests_lost"] = self.counters.get("requests_lost", 0) + 1

    def ship_crop_masks(self) -> dict[tuple[int, int], np.ndarray]:
        """Complete ship crops in the catalogue, decoded, by (frame id, product id):
        ``[rows, cols]`` masks, True where a pixel is kept (some band differs from the
        frame's no-data value)."""
        if not self.catalogue.exists():
            return {}
        out = {}
        with Catalogue.open(self.catalogue) as cat:
            rows = cat.product_rows("status='complete' AND product_type='SHIP_CROP'")
            for r in rows:
                p = cat.load_product(r["frame_id"], r["product_id"])
                nodata = p.header["nodata"]
                out[(r["frame_id"], r["product_id"])] = (p.pixels != nodata).any(axis=0)
        return out

    def export(self) -> ExportReport:
        """Crops, frame mosaics and detections into ``folder/export``."""
        return export_products(self.catalogue, self.folder / "export")

    def uplink_model(
        self,
        package: Path,
        key_file: Path,
        seq: int,
        name: str,
        *,
        rate_bps: float,
        pass_seconds: float,
    ) -> tuple[dict, Path]:
        """A model package as MODEL_UPLOAD telecommands (``groundstation uplink model``):
        the packet file ``uplink/<name>.tc`` (and its schedule), logged in the catalogue;
        the report and the file's path."""
        out = self.folder / "uplink" / f"{name}.tc"
        out.parent.mkdir(parents=True, exist_ok=True)
        report = uplink_model(
            package,
            key_file,
            seq,
            out,
            rate_bps=rate_bps,
            pass_seconds=pass_seconds,
            db=self.catalogue,
        )
        return report, out

    def uplink_command(
        self,
        action: str,
        model_id: int,
        key_file: Path,
        seq: int,
        name: str,
        *,
        rate_bps: float,
    ) -> tuple[dict, Path]:
        """A MODEL_COMMAND (``groundstation uplink command``) to ``uplink/<name>.tc``."""
        out = self.folder / "uplink" / f"{name}.tc"
        out.parent.mkdir(parents=True, exist_ok=True)
        report = uplink_command(
            action, model_id, key_file, seq, out, rate_bps=rate_bps, db=self.catalogue
        )
        return report, out

    def model_status(self) -> dict | None:
        """The newest MODEL_STATUS in the catalogue, as ``groundstation status`` shows it."""
        if not self.catalogue.exists():
            return None
        return catalogue_status(self.catalogue)["model_status"]

    def frame_models(self) -> list[dict]:
        """Which model classified the frames (from their FRAME_SUMMARY): per model id and
        hash, frames and products."""
        if not self.catalogue.exists():
            return []
        return catalogue_status(self.catalogue)["models"]
