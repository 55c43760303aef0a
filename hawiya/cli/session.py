"""``hawiya login`` / ``logout`` / ``whoami``: the CLI as an authenticated operator.

``login`` goes through the same throttled, audited log-in as ``POST /auth/token`` (the
client address is ``cli:<OS user>``) and keeps the bearer token for this OS user and this
data folder in ``~/.config/hawiya/sessions/`` (0600; see :func:`common.session_file`).
Commands then act as that account (:func:`common.act_as`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hawiya.cli.common import (
    DataDir,
    JsonOut,
    emit,
    handles_errors,
    open_platform,
    os_user,
    out,
    read_session,
    session_file,
    session_user,
    write_session,
)
from hawiya.errors import AuthError, InvalidInput

app = typer.Typer()


def _password(path: Path | None) -> str:
    if path is not None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise InvalidInput(f"cannot read password file {path}: {reason}") from exc
        if not lines or not lines[0]:
            raise InvalidInput(f"password file {path} is empty")
        return lines[0]
    try:
        return typer.prompt("password", hide_input=True, err=True)
    except typer.Abort:
        raise InvalidInput("no password given") from None


@app.command("login")
@handles_errors
def login(username: str, password_file: Annotated[Path | None, typer.Option(
        "--password-file", help="File holding the password (else it is asked for)")] = None,
          data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Log in to this data folder's registry: later commands act as this account (the
    audit log names it; its role is checked as the API checks it)."""
    from hawiya import auth

    platform = open_platform(data_dir)
    password = _password(password_file)
    with platform.transaction() as session:  # commits the attempt even when refused
        outcome = auth.login(session, username, password, client_address=f"cli:{os_user()}",
                             settings=platform.settings.auth)
    if outcome.error is not None:
        raise outcome.error
    tok = outcome.token
    path = write_session(platform.settings.data_dir, {
        "username": username, "role": tok["role"], "token": tok["access_token"],
        "expires_at": tok["expires_at"]})
    res = {"username": username, "role": tok["role"], "expires_at": tok["expires_at"],
           "session_file": str(path)}
    emit(res, as_json, lambda r: out.print(f"logged in as [bold]{r['username']}[/bold] "
                                           f"({r['role']}) until {r['expires_at']}"))


@app.command("logout")
@handles_errors
def logout(data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Revoke this CLI session's token and forget it."""
    from hawiya import auth

    platform = open_platform(data_dir)
    path = session_file(platform.settings.data_dir)
    try:
        info = read_session(platform.settings.data_dir)
    except AuthError:
        info = None  # a damaged or unsafe file: remove it all the same
    username = None
    if info is not None:
        username = info.get("username")
        with platform.transaction() as session:
            auth.revoke_token(session, info["token"], client_address=f"cli:{os_user()}")
    existed = path.exists()
    path.unlink(missing_ok=True)
    res = {"logged_out": existed, "username": username, "actor": f"os:{os_user()}"}
    emit(res, as_json, lambda r: out.print(
        f"logged out{' ' + r['username'] if r['username'] else ''}; commands now act as "
        f"{r['actor']}" if r["logged_out"] else f"not logged in (acting as {r['actor']})"))


@app.command("whoami")
@handles_errors
def whoami(data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Who commands act as here: the logged-in account, or the OS account."""
    platform = open_platform(data_dir)
    user = session_user(platform)
    if user is None:
        res = {"logged_in": False, "actor": f"os:{os_user()}", "username": None,
               "role": None, "station_code": None}
    else:
        info = read_session(platform.settings.data_dir) or {}
        res = {"logged_in": True, "actor": user.username, "username": user.username,
               "role": user.role, "station_code": user.station_code,
               "expires_at": info.get("expires_at")}
    res["data_dir"] = str(platform.settings.data_dir)
    emit(res, as_json, lambda r: out.print(
        f"{r['username']} ({r['role']}" + (f", station {r['station_code']}"
                                          if r["station_code"] else "") + ")"
        if r["logged_in"] else f"not logged in: commands act as {r['actor']} "
                               "(no role checks; `hawiya login USER` to act as an account)"))
