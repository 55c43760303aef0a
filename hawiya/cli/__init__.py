"""The ``hawiya`` command line (Typer + rich).

Every command takes ``--data-dir`` (or HAWIYA_DATA_DIR) and, where it reports a result,
``--json``: then the last line printed is one JSON object, for scripts. Errors print a clear
message (and with --json an ``{"error": ...}`` object) and exit non-zero, never a traceback.

One module per command group, each with its own ``app``; a new group is one line in
``GROUPS`` (``None``: its commands sit at the top level). Shared options and helpers are in
:mod:`hawiya.cli.common`.
"""

from __future__ import annotations

import os

import typer

from hawiya.cli import (
    anpr,
    audit,
    backup,
    border,
    card,
    cases,
    config,
    election,
    evaluation,
    identity,
    iris,
    mrz,
    persons,
    plate,
    server,
    session,
    sighting,
    templates,
    users,
    vehicle,
)
from hawiya.cli.common import DataDir, state

app = typer.Typer(help="Hawiya: national biometric identity platform.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)

# (group, name) in the order `hawiya --help` lists them.
GROUPS: list[tuple[typer.Typer, str | None]] = [
    (server.app, None),      # init, serve
    (session.app, None),     # login, logout, whoami
    (identity.app, None),    # enroll, enroll-batch, verify, identify
    (persons.app, "persons"),
    (cases.app, "cases"),
    (audit.app, "audit"),
    (evaluation.app, "eval"),
    (iris.app, "iris"),
    (users.app, "users"),
    (mrz.app, "mrz"),
    (anpr.app, "anpr"),
    (election.app, "election"),
    (card.app, "card"),
    (border.app, "border"),
    (vehicle.app, "vehicle"),
    (plate.app, "plate"),
    (sighting.camera_app, "camera"),
    (sighting.app, "sighting"),
    (sighting.hotlist_app, "hotlist"),
    (sighting.alerts_app, "alerts"),
    (templates.app, "templates"),
    (config.app, "config"),
    (backup.app, None),      # backup, restore
]
for group, name in GROUPS:
    app.add_typer(group, name=name)


@app.callback()
def _main(data_dir: DataDir = None) -> None:
    state["data_dir"] = data_dir


def main() -> None:
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    app()


__all__ = ["app", "main"]
