"""``hawiya templates``: templates per algorithm, and re-extraction after a model or
parameter change (an audited upgrade)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from hawiya.cli.common import (
    DataDir,
    JsonOut,
    Operator,
    act_as,
    emit,
    handles_errors,
    open_platform,
    out,
    progress_bar,
)

app = typer.Typer(help="Biometric templates by algorithm: status, re-extraction.",
                  no_args_is_help=True)


@app.command("status")
@handles_errors
def templates_status(data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Count templates per (modality, algorithm); which ones the configured engines use."""
    from hawiya.identity import upgrade

    res = upgrade.status(open_platform(data_dir))

    def render(r):
        table = Table()
        for col in ("modality", "algorithm", "current", "templates", "people",
                    "with_raw_capture"):
            table.add_column(col)
        for a in r["algorithms"]:
            table.add_row(a["modality"], a["algorithm"], "yes" if a["current"] else "NO",
                          str(a["templates"]), str(a["people"]), str(a["with_raw_capture"]))
        out.print(table)
        if r["stale"]:
            out.print(f"[yellow]{r['stale']} templates of algorithms no engine uses now[/yellow]"
                      "; run `hawiya templates reextract --algorithm ID`")
    emit(res, as_json, render)


@app.command("reextract")
@handles_errors
def templates_reextract(algorithm: Annotated[str, typer.Option(
        help="Algorithm id to upgrade, e.g. dlib-resnet/1 (see `templates status`)")],
                        operator: Operator = None, data_dir: DataDir = None,
                        as_json: JsonOut = False) -> None:
    """Re-extract templates of ALGORITHM from kept raw captures with the configured engine;
    list the people who must be captured again."""
    from hawiya.identity import upgrade

    platform = open_platform(data_dir)
    actor = act_as(platform, operator)  # admin only
    with progress_bar("re-extracting", eta=True) as bar:
        task = bar.add_task("templates", total=None)
        res = upgrade.reextract(platform, algorithm, actor=actor,
                                on_progress=lambda done, total: bar.update(
                                    task, completed=done, total=total))
    platform.close()

    def render(r):
        out.print(f"{r['algorithm']} → {r['to_algorithm']}: {r['reextracted']} re-extracted, "
                  f"{r['failed']} need a new capture")
        for p in r["recapture"]:
            out.print(f"  {p['person_id']} {p['position']}: {p['reason']}")
    emit(res, as_json, render)
