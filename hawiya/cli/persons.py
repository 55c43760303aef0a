"""``hawiya persons``: look people up in the registry."""

from __future__ import annotations

import typer
from rich.table import Table

from hawiya.cli.common import DataDir, JsonOut, emit, handles_errors, open_platform, out

app = typer.Typer(help="Look people up in the registry.", no_args_is_help=True)


@app.command("list")
@handles_errors
def persons_list(status: str | None = None, limit: int = 50, offset: int = 0,
                 data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """List people (optionally by status)."""
    from hawiya.identity import persons

    rows = persons.list_persons(open_platform(data_dir), status, limit, offset)

    def render(r):
        table = Table()
        for col in ("person_id", "reference_id", "name", "status", "created_at"):
            table.add_column(col)
        for p in r["persons"]:
            table.add_row(*(str(p.get(c) or "") for c in
                            ("person_id", "reference_id", "name", "status", "created_at")))
        out.print(table)
    emit({"persons": [p.to_json() for p in rows]}, as_json, render)


@app.command("show")
@handles_errors
def persons_show(person_id: str, data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """One person, with their templates' modality and quality."""
    from hawiya.identity import persons

    res = persons.get_person(open_platform(data_dir), person_id)
    emit(res, as_json, lambda r: out.print_json(data=r))
