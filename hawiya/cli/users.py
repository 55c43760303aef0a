"""``hawiya users``: operator accounts and roles."""

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
)

app = typer.Typer(help="Operator accounts and roles.", no_args_is_help=True)


@app.command("create")
@handles_errors
def users_create(username: str, role: str, password: Annotated[str | None, typer.Option(
        envvar="HAWIYA_NEW_PASSWORD", help="Password (prompted if absent)")] = None,
                 station: Annotated[str | None, typer.Option(
                     help="polling_clerk: the only station this account may check in at")
                 ] = None,
                 operator: Operator = None, data_dir: DataDir = None,
                 as_json: JsonOut = False) -> None:
    """Create an operator account with a role."""
    from hawiya import auth

    platform = open_platform(data_dir)
    actor = act_as(platform, operator)  # admin only, as the API
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with platform.transaction() as session:
        user = auth.create_user(session, username, password, role, actor=actor,
                                station_code=station)
        res = {"username": user.username, "role": user.role, "station": user.station_code}
    emit(res, as_json, lambda r: out.print(f"created {r['username']} ({r['role']})"))


@app.command("list")
@handles_errors
def users_list(data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Operator accounts with role, station and whether active."""
    from hawiya import auth

    platform = open_platform(data_dir)
    act_as(platform, None)
    with platform.transaction() as session:
        res = {"users": auth.list_users(session)}

    def render(r):
        table = Table()
        for col in ("username", "role", "station_code", "active"):
            table.add_column(col)
        for u in r["users"]:
            table.add_row(*(str(u[c] if u[c] is not None else "") for c in
                            ("username", "role", "station_code", "active")))
        out.print(table)
    emit(res, as_json, render)


@app.command("passwd")
@handles_errors
def users_passwd(username: str, password: Annotated[str | None, typer.Option(
        envvar="HAWIYA_NEW_PASSWORD", help="New password (prompted if absent)")] = None,
                 operator: Operator = None, data_dir: DataDir = None,
                 as_json: JsonOut = False) -> None:
    """Set a user's password (revokes the user's tokens)."""
    from hawiya import auth

    platform = open_platform(data_dir)
    actor = act_as(platform, operator)
    if password is None:
        password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    with platform.transaction() as session:
        auth.set_password(session, username, password, actor=actor)
    emit({"username": username, "changed": True}, as_json,
         lambda r: out.print(f"password of {username} changed"))


@app.command("disable")
@handles_errors
def users_disable(username: str, enable: Annotated[bool, typer.Option(
        "--enable", help="Re-enable instead")] = False, operator: Operator = None,
                  data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Disable an account (its tokens are revoked), or re-enable it with --enable."""
    from hawiya import auth

    platform = open_platform(data_dir)
    actor = act_as(platform, operator)
    with platform.transaction() as session:
        auth.set_active(session, username, enable, actor=actor)
    emit({"username": username, "active": enable}, as_json,
         lambda r: out.print(f"{username} {'enabled' if enable else 'disabled'}"))


@app.command("role")
@handles_errors
def users_role(username: str, role: str, station: Annotated[str | None, typer.Option(
        help="polling_clerk: the only station this account may check in at")] = None,
               operator: Operator = None, data_dir: DataDir = None,
               as_json: JsonOut = False) -> None:
    """Change a user's role (revoking its tokens) or a polling clerk's station. The last
    active admin cannot be demoted."""
    from hawiya import auth

    platform = open_platform(data_dir)
    actor = act_as(platform, operator)
    with platform.transaction() as session:
        res = auth.set_role(session, username, role, actor=actor,
                            station_code=station)
    emit(res, as_json, lambda r: out.print(
        f"{r['username']} is now {r['role']}"
        + (f" at station {r['station_code']}" if r["station_code"] else "")
        + (" (tokens revoked)" if r["tokens_revoked"] else "")))
