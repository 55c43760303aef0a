"""``hawiya backup`` / ``hawiya restore``: one encrypted archive of a data folder.

The logic is in :mod:`hawiya.backup`; PostgreSQL needs the client tools (``pg_dump``,
``pg_restore``) on PATH.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from hawiya.cli.common import (
    DataDir,
    JsonOut,
    check_role,
    console,
    emit,
    handles_errors,
    out,
    state,
)
from hawiya.errors import InvalidInput

app = typer.Typer()

PassphraseFile = Annotated[Path | None, typer.Option(
    "--passphrase-file", help="File holding the passphrase (else it is asked for)")]


def _passphrase(path: Path | None, confirm: bool) -> str:
    """The passphrase: the file's first line, or asked for on the terminal."""
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise InvalidInput(f"cannot read passphrase file {path}: {reason}") from exc
        lines = text.splitlines()
        phrase = lines[0] if lines else ""
        if not phrase:
            raise InvalidInput(f"passphrase file {path} is empty")
        return phrase
    try:
        return typer.prompt("Backup passphrase", hide_input=True,
                            confirmation_prompt=confirm, err=True)
    except typer.Abort:
        raise InvalidInput("no passphrase given") from None


@app.command("backup")
@handles_errors
def backup(output: Annotated[Path, typer.Option("--out", help="Archive to write")],
           passphrase_file: PassphraseFile = None, data_dir: DataDir = None,
           as_json: JsonOut = False) -> None:
    """Back up the registry and the keys to one archive encrypted under a passphrase
    (safe while the server runs; PostgreSQL needs pg_dump on PATH)."""
    from hawiya import backup as service
    from hawiya.config import load_settings

    check_role(data_dir)  # logged in: admin only
    settings = load_settings(data_dir or state["data_dir"])
    res = service.create_backup(settings, output, _passphrase(passphrase_file, confirm=True))
    summary = {k: res[k] for k in ("file", "created", "database", "counts", "audit_head",
                                   "template_key_in_archive")}
    summary["size"] = os.path.getsize(output)

    def render(r: dict) -> None:
        c = r["counts"]
        out.print(f"backup written to [bold]{r['file']}[/bold] ({r['size']} bytes): "
                  f"{r['database']}, {c['persons']} persons, {c['templates']} templates, "
                  f"{c['audit_records']} audit records")
        if not r["template_key_in_archive"]:
            console.print("[yellow]warning:[/yellow] the template key is configured outside "
                          "the data folder (HAWIYA_TEMPLATE_KEY) and is not in the archive; "
                          "keep it safe separately")
    emit(summary, as_json, render)


@app.command("restore")
@handles_errors
def restore(archive: Annotated[Path, typer.Argument(help="Archive made by `hawiya backup`")],
            passphrase_file: PassphraseFile = None, data_dir: DataDir = None,
            force: Annotated[bool, typer.Option(
                "--force", help="Replace the registry and keys of a non-empty target")] = False,
            as_json: JsonOut = False) -> None:
    """Restore an archive into --data-dir (an empty one, unless --force), then verify it:
    the audit chain, the counts, and that templates decrypt with the restored key."""
    from hawiya import backup as service
    from hawiya.config import load_settings

    target = data_dir or state["data_dir"]
    if target is None:
        raise InvalidInput("restore needs --data-dir (the folder to restore into)")
    check_role(target)  # logged in to the registry being replaced: admin only
    service.read_manifest(archive)  # a missing or foreign file fails before the prompt
    res = service.restore_backup(archive, load_settings(target),
                                 _passphrase(passphrase_file, confirm=False), force=force)
    res["manifest"] = {k: res["manifest"].get(k) for k in ("created", "hawiya_version",
                                                           "counts", "audit_head")}

    def render(r: dict) -> None:
        v = r["verification"]
        out.print(f"restored {r['restored']} into [bold]{r['data_dir']}[/bold] "
                  f"({r['database']}, made {r['manifest']['created']})")
        if "error" in v:
            out.print(f"[red]✗ verification failed[/red]: {v['error']}")
            return
        a, t, c = v["audit"], v["templates"], v["counts"]
        mark = {True: "[green]✓[/green]", False: "[red]✗[/red]"}
        out.print(f"  {mark[a['ok'] and a['head_matches_manifest']]} audit chain: "
                  f"{a['records']} records" + ("" if a["ok"] else
                                               f", first bad {a['first_bad']}: {a['reason']}")
                  + ("" if a["head_matches_manifest"] else ", head differs from the manifest"))
        out.print(f"  {mark[v['counts_match']]} counts: {c['persons']} persons, "
                  f"{c['templates']} templates, {c['audit_records']} audit records")
        out.print(f"  {mark[not t['failed']]} templates: {t['decrypted']} of {t['sampled']} "
                  "sampled decrypt with the restored key")
        out.print("[green]verified[/green]" if v["ok"] else "[red]VERIFICATION FAILED[/red]")
    emit(res, as_json, render)
    if not res["verification"]["ok"]:
        raise typer.Exit(3)
