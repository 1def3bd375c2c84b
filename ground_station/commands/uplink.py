"""``groundstation uplink``: telecommands that change the satellite's model (a model package
as authenticated MODEL_UPLOAD packets, or a MODEL_COMMAND), written for the next pass."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ground_station.commands._common import JsonOption, human_bytes, print_json
from ground_station.uplink import keygen, uplink_command, uplink_model

uplink_app = typer.Typer(
    help="Telecommands that change the on-board model (authenticated: key file, sequence).",
    no_args_is_help=True,
)

KeyFileOption = Annotated[
    Path,
    typer.Option("--key-file", help="The spacecraft's uplink key file (JSON: spacecraft, "
                 "key_id, key).", dir_okay=False),
]  # fmt: skip
SeqOption = Annotated[
    int,
    typer.Option("--seq", min=1, max=0xFFFFFFFF,
                 help="Anti-replay sequence number: above the last one the satellite accepted."),
]  # fmt: skip
RateOption = Annotated[
    float, typer.Option("--rate-bps", min=1.0, help="Uplink bit rate on the air.")
]
DbOpt = Annotated[
    Path | None,
    typer.Option("--db", help="Log the uplink in this catalogue (and refuse a sequence "
                 "number already used with the key).", dir_okay=False),
]  # fmt: skip


@uplink_app.command("model")
def model(
    package: Annotated[Path, typer.Argument(help="The model package (triage model package).")],
    key_file: KeyFileOption,
    seq: SeqOption,
    out: Annotated[
        Path, typer.Option("--out", help="Packet file to write (manifest: <out>.json).")
    ] = Path("model_upload.tc"),
    rate_bps: RateOption = 9600.0,
    pass_seconds: Annotated[
        float | None,
        typer.Option(
            "--pass-seconds",
            min=0.0,
            help="Usable seconds of the pass: refuse an upload that does not fit.",
        ),
    ] = None,
    db: DbOpt = None,
    json_out: JsonOption = False,
) -> None:
    """Seal a model package and cut it into MODEL_UPLOAD telecommands for the next pass."""
    r = uplink_model(package, key_file, seq, out, rate_bps=rate_bps,
                     pass_seconds=pass_seconds, db=db)  # fmt: skip
    if json_out:
        print_json(r)
        return
    typer.echo(
        f"model {r['model_id']} ({r['package_bytes']} bytes, package sha256 "
        f"{r['package_sha256'][:16]}...) sealed with key {r['key_id']}, sequence {r['arsn']}"
    )
    typer.echo(
        f"{r['packets']} MODEL_UPLOAD packets, {human_bytes(r['link_bytes'])} on the radio: "
        f"{r['uplink_seconds']:.1f} s at {r['rate_bps']:g} bit/s -> {r['packets_file']}"
    )


@uplink_app.command("command")
def command(
    action: Annotated[str, typer.Argument(help="commit, rollback or factory.")],
    key_file: KeyFileOption,
    seq: SeqOption,
    model_id: Annotated[
        int, typer.Option("--model-id", min=0, help="The active model it is about (0: factory).")
    ] = 0,
    out: Annotated[Path, typer.Option("--out", help="Packet file to write.")] = Path(
        "model_command.tc"
    ),
    rate_bps: RateOption = 9600.0,
    db: DbOpt = None,
    json_out: JsonOption = False,
) -> None:
    """A MODEL_COMMAND: commit the model on trial, roll back, or go to the factory default."""
    r = uplink_command(action, model_id, key_file, seq, out, rate_bps=rate_bps, db=db)
    if json_out:
        print_json(r)
        return
    typer.echo(
        f"MODEL_COMMAND {r['action']} model {r['model_id']}, key {r['key_id']}, sequence "
        f"{r['arsn']} -> {r['packets_file']}"
    )


@uplink_app.command("keygen")
def keygen_cmd(
    spacecraft: Annotated[str, typer.Option("--spacecraft", help="The spacecraft's name.")],
    key_id: Annotated[int, typer.Option("--key-id", min=1, max=0xFFFF, help="Its SPI.")],
    out: Annotated[Path, typer.Option("--out", help="Key file to create (never overwritten).")],
    flash_out: Annotated[
        Path | None,
        typer.Option(
            "--flash-out",
            help="Also write the satellite's model flash image "
            "provisioned with the key (to load before launch).",
        ),
    ] = None,
) -> None:
    """A new uplink key: the ground's key file and the satellite's key store."""
    r = keygen(spacecraft, key_id, out, flash_out=flash_out)
    typer.echo(
        f"key {r['key_id']} for {r['spacecraft']} -> {r['key_file']}"
        + (f"; model flash -> {r['model_flash']}" if "model_flash" in r else "")
    )


def register(app: typer.Typer) -> None:
    app.add_typer(uplink_app, name="uplink")
