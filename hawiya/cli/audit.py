"""``hawiya audit``: the tamper-evident audit log."""

from __future__ import annotations

import typer

from hawiya.cli.common import DataDir, JsonOut, emit, handles_errors, open_platform, out

app = typer.Typer(help="Tamper-evident audit log.", no_args_is_help=True)


@app.command("verify")
@handles_errors
def audit_verify(data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Recompute the audit hash chain; report the first tampered record."""
    from hawiya import audit

    with open_platform(data_dir).transaction() as session:
        res = audit.verify_chain(session)
    emit(res, as_json, lambda r: out.print(
        f"[green]audit log intact[/green]: {r['records']} records" if r["ok"] else
        f"[red]TAMPERED[/red] at record {r['first_bad']}: {r['reason']}"))
    if not res["ok"]:
        raise typer.Exit(3)
