"""The ``hawiya`` command line (Typer + rich).

Every command takes ``--data-dir`` (or HAWIYA_DATA_DIR) and, where it reports a result,
``--json``: then the last line printed is one JSON object, for scripts. Errors print a clear
message (and with --json an ``{"error": ...}`` object) and exit non-zero, never a traceback.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from hawiya.errors import HawiyaError, InvalidInput

app = typer.Typer(help="Hawiya: national biometric identity platform.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
persons_app = typer.Typer(help="Look people up in the registry.", no_args_is_help=True)
cases_app = typer.Typer(help="Adjudication queue of potential duplicates.", no_args_is_help=True)
audit_app = typer.Typer(help="Tamper-evident audit log.", no_args_is_help=True)
eval_app = typer.Typer(help="Accuracy evaluation on labelled data (FMR/FNMR/EER/DET).",
                       no_args_is_help=True)
card_app = typer.Typer(help="Signed ID cards: issue, render, verify, status, keys.",
                       no_args_is_help=True)
border_app = typer.Typer(help="Border and desk document checks.", no_args_is_help=True)
election_app = typer.Typer(help="Elections: geography, roll, check-in, sync, turnout.",
                           no_args_is_help=True)
mrz_app = typer.Typer(help="ICAO 9303 machine-readable zones: parse, build, read.",
                       no_args_is_help=True)
users_app = typer.Typer(help="Operator accounts and roles.", no_args_is_help=True)
app.add_typer(persons_app, name="persons")
app.add_typer(cases_app, name="cases")
app.add_typer(audit_app, name="audit")
app.add_typer(eval_app, name="eval")
app.add_typer(users_app, name="users")
app.add_typer(mrz_app, name="mrz")
app.add_typer(election_app, name="election")
app.add_typer(card_app, name="card")
app.add_typer(border_app, name="border")

console = Console(stderr=True)
out = Console()

DataDir = Annotated[Path | None, typer.Option("--data-dir", envvar="HAWIYA_DATA_DIR",
                                                 help="Data folder (default ./hawiya-data)")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print one JSON object (last line)")]
IrisLeft = Annotated[Path | None, typer.Option("--iris-left", help="Left-eye iris image")]
IrisRight = Annotated[Path | None, typer.Option("--iris-right", help="Right-eye iris image")]
Fingers = Annotated[list[str] | None, typer.Option(
    "--finger", help="POSITION=IMAGE, e.g. right-index=scan.png (repeat, up to ten)")]
Operator = Annotated[str | None, typer.Option("--operator", help="Who is acting (audit)")]

_state: dict = {"data_dir": None}


@app.callback()
def _main(data_dir: DataDir = None) -> None:
    _state["data_dir"] = data_dir


def _platform(data_dir: Path | None, must_exist: bool = True):
    from hawiya.config import load_settings
    from hawiya.platform import Platform

    settings = load_settings(data_dir or _state["data_dir"])
    if must_exist and settings.database_url.startswith("sqlite") and \
            not (settings.data_dir / "hawiya.db").exists():
        raise HawiyaError(f"no registry in {settings.data_dir}; run `hawiya init` first")
    return Platform(settings)


def _fingers(items: list[str] | None) -> list[tuple[str, Path]]:
    out = []
    for item in items or []:
        position, sep, path = item.partition("=")
        if not sep:
            position, path = "unknown", item
        out.append((position.strip(), Path(path)))
    return out


def _irises(left: Path | None, right: Path | None) -> list[tuple[str, Path]]:
    return [(pos, img) for pos, img in (("left-iris", left), ("right-iris", right)) if img]


def _actor(operator: str | None) -> str:
    return operator or f"cli:{getpass.getuser()}"


def _emit(result: dict, as_json: bool, render) -> None:
    if as_json:
        print(json.dumps(result, default=str, ensure_ascii=False))
    else:
        render(result)


def handles_errors(fn):
    """Turn HawiyaError into a message (and JSON error object) with exit code 1/2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except HawiyaError as exc:
            if kwargs.get("as_json"):
                print(json.dumps(exc.to_dict(), default=str))
            console.print(f"[red]error:[/red] {exc.message}")
            for r in exc.reasons:
                console.print(f"  - {r}")
            raise typer.Exit(2 if isinstance(exc, InvalidInput) else 1) from None
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/yellow]")
            raise typer.Exit(130) from None

    return wrapper


def _candidates_table(cands: list[dict], title: str) -> None:
    if not cands:
        out.print(f"{title}: none")
        return
    cols = [c for c in ("person_id", "name", "status", "score_kind") if c in cands[0]]
    table = Table(title=title)
    for col in cols + ["score"]:
        table.add_column(col)
    for c in cands:
        table.add_row(*(str(c.get(col, "")) for col in cols), f"{c['score']:.4f}")
    out.print(table)


# -- setup and server --------------------------------------------------------------------------
@app.command()
@handles_errors
def init(data_dir: DataDir = None, admin_password: Annotated[str | None, typer.Option(
        envvar="HAWIYA_ADMIN_PASSWORD", help="Password for the first admin")] = None,
         as_json: JsonOut = False) -> None:
    """Create the data dir, template key, database schema and the first admin."""
    from hawiya import auth

    platform = _platform(data_dir, must_exist=False)
    info = platform.init()
    with platform.transaction() as session:
        password = auth.bootstrap_admin(session, admin_password)
    info["admin_created"] = password is not None
    if password and not admin_password:
        info["admin_password"] = password
    _emit(info, as_json, lambda r: out.print(
        f"Initialised {r['data_dir']} ({r['database']})."
        + (f"\nAdmin user: admin / {password}  (shown once; change it)" if password and
           not admin_password else "")))


@app.command()
@handles_errors
def serve(data_dir: DataDir = None, host: str = "127.0.0.1", port: int = 8000,
          workers: Annotated[int, typer.Option(
              help="Server processes (biometric extraction is CPU-bound: one per core)")] = 1,
          admin_password: Annotated[str | None, typer.Option(
              envvar="HAWIYA_ADMIN_PASSWORD", help="Password for the first admin")] = None
          ) -> None:
    """Run the REST API (initialising the data dir on first start)."""
    import uvicorn

    from hawiya import auth
    from hawiya.api.app import create_app

    platform = _platform(data_dir, must_exist=False)
    platform.init()
    with platform.transaction() as session:
        password = auth.bootstrap_admin(session, admin_password)
    url = f"http://{host}:{port}"
    out.print(f"Hawiya API on [bold]{url}[/bold]  (OpenAPI: {url}/docs)")
    out.print(f"Data: {platform.settings.data_dir}")
    if password:
        out.print(f"First start: admin user [bold]admin[/bold] / [bold]{password}[/bold] "
                  "(shown once)")
    out.print(f"Log in: curl -X POST {url}/auth/token -d username=admin -d password=...  "
              "then send 'Authorization: Bearer <token>'")
    if workers > 1:
        # Each worker process builds its own Platform from the environment.
        os.environ["HAWIYA_DATA_DIR"] = str(platform.settings.data_dir)
        os.environ.setdefault("HAWIYA_DATABASE_URL", platform.settings.database_url)
        platform.close()
        uvicorn.run("hawiya.api.app:create_app", factory=True, workers=workers, host=host,
                    port=port, log_level="info")
    else:
        uvicorn.run(create_app(platform), host=host, port=port, log_level="info")


# -- identity operations -------------------------------------------------------------------------
@app.command()
@handles_errors
def enroll(name: Annotated[str, typer.Option(help="Full name")],
           face: Annotated[list[Path] | None, typer.Option(
               help="Face image (repeat for several)")] = None,
           iris_left: IrisLeft = None, iris_right: IrisRight = None, finger: Fingers = None,
           reference_id: Annotated[str | None, typer.Option(help="Integrator's id")] = None,
           date_of_birth: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
           sex: str | None = None, district: str | None = None,
           request_id: Annotated[str | None, typer.Option(
               help="Idempotency key: the same id returns the first result")] = None,
           operator: Operator = None, data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Enroll a person (face and/or iris): quality gate, extraction, 1:N de-duplication."""
    from hawiya.identity import service

    platform = _platform(data_dir)
    demo = service.Demographics.parse(name, reference_id, date_of_birth, sex, district)
    res = service.enroll_safely(platform, faces=list(face or []),
                                irises=_irises(iris_left, iris_right),
                                fingers=_fingers(finger), demographics=demo,
                                actor=_actor(operator), request_id=request_id)
    platform.close()

    def render(r):
        out.print(f"{r['person_id']}: [bold]{r['status']}[/bold]"
                  + (" (replayed)" if r.get("replayed") else ""))
        if r["candidates"]:
            _candidates_table(r["candidates"], f"Possible duplicates (case {r['case_id']})")
    _emit(res, as_json, render)


@app.command("enroll-batch")
@handles_errors
def enroll_batch(folder: Path, manifest: Annotated[Path | None, typer.Option(
        help="CSV with columns name,face[,reference_id,date_of_birth,sex,district,request_id]"
             " (default FOLDER/manifest.csv)")] = None,
                 operator: Operator = None, data_dir: DataDir = None,
                 as_json: JsonOut = False) -> None:
    """Enroll many people from a folder of images and a CSV manifest."""
    from hawiya.identity.batch import enroll_batch as run

    platform = _platform(data_dir)
    with Progress(TextColumn("enrolling"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console) as progress:
        task = progress.add_task("enroll", total=None)
        res = run(platform, folder, manifest, actor=_actor(operator),
                  on_progress=lambda done, total: progress.update(task, completed=done,
                                                                   total=total))
    platform.close()

    def render(r):
        out.print(f"job {r['job_id']}: {r['total']} rows, {r['enrolled']} enrolled, "
                  f"{r['potential_duplicate']} held as potential duplicates, "
                  f"{r['replayed']} already done, {r['failed']} failed")
        for e in r["results"]:
            if e["status"] == "failed":
                out.print(f"  line {e['line']} ({e['name']}): {e['error']}")
    _emit(res, as_json, render)
    if res["failed"]:
        raise typer.Exit(1)  # the batch ran; some rows need attention


@app.command()
@handles_errors
def verify(person_id: str, face: Annotated[Path | None, typer.Option(help="Face image")] = None,
           iris_left: IrisLeft = None, iris_right: IrisRight = None, finger: Fingers = None,
           operator: Operator = None, data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """1:1: is this the enrolled person? (our id or reference id; face and/or iris)"""
    from hawiya.identity import service

    platform = _platform(data_dir)
    res = service.verify(platform, person_id, face, actor=_actor(operator),
                         irises=_irises(iris_left, iris_right),
                                fingers=_fingers(finger))
    _emit(res, as_json, lambda r: out.print(
        f"{'[green]MATCH[/green]' if r['match'] else '[red]NO MATCH[/red]'}  {r['reason']}"))


@app.command()
@handles_errors
def identify(face: Annotated[Path | None, typer.Option(help="Face image")] = None,
             iris_left: IrisLeft = None, iris_right: IrisRight = None, finger: Fingers = None,
             top: Annotated[int, typer.Option(help="Number of candidates")] = 10,
             among: Annotated[str | None, typer.Option(
                 help="Search only these people (comma-separated ids)")] = None,
             operator: Operator = None, data_dir: DataDir = None,
             as_json: JsonOut = False) -> None:
    """1:N: who is this? Top-K candidates with scores (face and/or iris)."""
    from hawiya.identity import service

    platform = _platform(data_dir)
    keys = [k.strip() for k in among.split(",") if k.strip()] if among is not None else None
    res = service.identify(platform, face, actor=_actor(operator), top=top, restrict_to=keys,
                           irises=_irises(iris_left, iris_right),
                                fingers=_fingers(finger))
    platform.close()
    _emit(res, as_json, lambda r: _candidates_table(
        r["candidates"], f"Candidates (match threshold {r['threshold']:.4f})"))


# -- registry lookups ---------------------------------------------------------------------------
@persons_app.command("list")
@handles_errors
def persons_list(status: str | None = None, limit: int = 50, offset: int = 0,
                 data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """List people (optionally by status)."""
    from hawiya.identity import service

    rows = service.list_persons(_platform(data_dir), status, limit, offset)

    def render(r):
        table = Table()
        for col in ("person_id", "reference_id", "name", "status", "created_at"):
            table.add_column(col)
        for p in r["persons"]:
            table.add_row(*(str(p.get(c) or "") for c in
                            ("person_id", "reference_id", "name", "status", "created_at")))
        out.print(table)
    _emit({"persons": rows}, as_json, render)


@persons_app.command("show")
@handles_errors
def persons_show(person_id: str, data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """One person, with their templates' modality and quality."""
    from hawiya.identity import service

    res = service.get_person(_platform(data_dir), person_id)
    _emit(res, as_json, lambda r: out.print_json(data=r))


# -- adjudication -------------------------------------------------------------------------------
@cases_app.command("list")
@handles_errors
def cases_list(status: str = "open", data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Potential duplicates awaiting (or past) adjudication."""
    from hawiya.identity import service

    rows = service.list_cases(_platform(data_dir), status)

    def render(r):
        for c in r["cases"]:
            out.print(f"case {c['case_id']}: {c['person']['person_id']} "
                      f"({c['person']['name']}) [{c['status']}]")
            _candidates_table(c["candidates"], "  matches")
    _emit({"cases": rows}, as_json, render)


@cases_app.command("decide")
@handles_errors
def cases_decide(case_id: int, decision: Annotated[str, typer.Argument(
        help="distinct | duplicate")], duplicate_of: str | None = None,
                 note: str | None = None, operator: Operator = None,
                 data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Decide a case: the held person is distinct (activate) or a duplicate (merge)."""
    from hawiya.identity import service

    platform = _platform(data_dir)
    res = service.decide_case(platform, case_id, decision, actor=_actor(operator),
                              duplicate_of=duplicate_of, note=note)
    platform.close()
    _emit(res, as_json, lambda r: out.print(
        f"case {r['case_id']}: {r['decision']} → {r['person']['person_id']} is "
        f"{r['person']['status']}"))


# -- users --------------------------------------------------------------------------------------
@users_app.command("create")
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

    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    platform = _platform(data_dir)
    with platform.transaction() as session:
        user = auth.create_user(session, username, password, role, actor=_actor(operator),
                                station_code=station)
        res = {"username": user.username, "role": user.role, "station": user.station_code}
    _emit(res, as_json, lambda r: out.print(f"created {r['username']} ({r['role']})"))


@users_app.command("list")
@handles_errors
def users_list(data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Operator accounts with role, station and whether active."""
    from hawiya import auth

    with _platform(data_dir).transaction() as session:
        res = {"users": auth.list_users(session)}

    def render(r):
        table = Table()
        for col in ("username", "role", "station_code", "active"):
            table.add_column(col)
        for u in r["users"]:
            table.add_row(*(str(u[c] if u[c] is not None else "") for c in
                            ("username", "role", "station_code", "active")))
        out.print(table)
    _emit(res, as_json, render)


@users_app.command("passwd")
@handles_errors
def users_passwd(username: str, password: Annotated[str | None, typer.Option(
        envvar="HAWIYA_NEW_PASSWORD", help="New password (prompted if absent)")] = None,
                 operator: Operator = None, data_dir: DataDir = None,
                 as_json: JsonOut = False) -> None:
    """Set a user's password (revokes the user's tokens)."""
    from hawiya import auth

    if password is None:
        password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    with _platform(data_dir).transaction() as session:
        auth.set_password(session, username, password, actor=_actor(operator))
    _emit({"username": username, "changed": True}, as_json,
          lambda r: out.print(f"password of {username} changed"))


@users_app.command("disable")
@handles_errors
def users_disable(username: str, enable: Annotated[bool, typer.Option(
        "--enable", help="Re-enable instead")] = False, operator: Operator = None,
                  data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Disable an account (its tokens are revoked), or re-enable it with --enable."""
    from hawiya import auth

    with _platform(data_dir).transaction() as session:
        auth.set_active(session, username, enable, actor=_actor(operator))
    _emit({"username": username, "active": enable}, as_json,
          lambda r: out.print(f"{username} {'enabled' if enable else 'disabled'}"))


# -- audit --------------------------------------------------------------------------------------
@audit_app.command("verify")
@handles_errors
def audit_verify(data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Recompute the audit hash chain; report the first tampered record."""
    from hawiya import audit

    with _platform(data_dir).transaction() as session:
        res = audit.verify_chain(session)
    _emit(res, as_json, lambda r: out.print(
        f"[green]audit log intact[/green]: {r['records']} records" if r["ok"] else
        f"[red]TAMPERED[/red] at record {r['first_bad']}: {r['reason']}"))
    if not res["ok"]:
        raise typer.Exit(3)


# -- evaluation ---------------------------------------------------------------------------------
@eval_app.command("face")
@handles_errors
def eval_face(directory: Annotated[Path | None, typer.Argument(
        help="One sub-folder per identity")] = None,
              manifest: Annotated[Path | None, typer.Option(
                  help="CSV with columns path,label (paths relative to it)")] = None,
              pairs: Annotated[Path | None, typer.Option(
                  help="LFW-style pairs file (with DIR as the image root)")] = None,
              out_dir: Annotated[Path, typer.Option("--out", help="Report folder")] = Path(
                  "reports"),
              detector: str = "hog", as_json: JsonOut = False) -> None:
    """Face accuracy: genuine/impostor scores, EER, FNMR at FMR, DET plot."""
    from hawiya.biometrics.face import get_face_engine

    _run_eval(get_face_engine(detector), "face", directory, manifest, pairs, out_dir, as_json)


@eval_app.command("iris")
@handles_errors
def eval_iris(directory: Annotated[Path | None, typer.Argument(
        help="One sub-folder per eye")] = None,
              manifest: Annotated[Path | None, typer.Option(
                  help="CSV with columns path,label (paths relative to it)")] = None,
              out_dir: Annotated[Path, typer.Option("--out", help="Report folder")] = Path(
                  "reports"),
              as_json: JsonOut = False) -> None:
    """Iris accuracy: genuine/impostor scores, EER, FNMR at FMR, DET plot."""
    from hawiya.biometrics.iris import get_iris_engine

    _run_eval(get_iris_engine(), "iris", directory, manifest, None, out_dir, as_json)


@eval_app.command("finger")
@handles_errors
def eval_finger(directory: Annotated[Path | None, typer.Argument(
        help="One sub-folder per finger, or FVC-named files with --fvc")] = None,
                manifest: Annotated[Path | None, typer.Option(
                    help="CSV with columns path,label (paths relative to it)")] = None,
                fvc: Annotated[bool, typer.Option(
                    "--fvc", help="Labels from FVC names <finger>_<impression>.tif")] = False,
                iso: Annotated[bool, typer.Option(
                    "--iso", help="Match the ISO 19794-2 .iso templates beside the images")
                ] = False,
                out_dir: Annotated[Path, typer.Option("--out", help="Report folder")] = Path(
                    "reports"),
                as_json: JsonOut = False) -> None:
    """Fingerprint accuracy: genuine/impostor scores, EER, FNMR at FMR, DET plot."""
    from hawiya.biometrics.finger import IsoRecordEngine, get_finger_engine
    from hawiya.eval import datasets

    engine = get_finger_engine()
    if iso:
        engine = IsoRecordEngine(engine)
    if fvc or iso:
        if directory is None:
            raise InvalidInput("--fvc/--iso need DIR")
        samples = datasets.load_fvc(directory, ".iso" if iso else ".tif")
        _run_eval(engine, "finger-iso" if iso else "finger", None, None, None, out_dir,
                  as_json, samples=samples, source=directory)
    else:
        _run_eval(engine, "finger", directory, manifest, None, out_dir, as_json)


def _run_eval(engine, name: str, directory, manifest, pairs, out_dir: Path,
              as_json: bool, samples=None, source: Path | None = None) -> None:
    from hawiya.eval import datasets
    from hawiya.eval.runner import run_eval

    if samples is None and (directory is None) == (manifest is None):
        raise InvalidInput("give exactly one of DIR or --manifest CSV")
    pair_list = None
    if samples is not None:
        pass
    elif pairs is not None:
        if directory is None:
            raise InvalidInput("--pairs needs DIR (the image root)")
        pair_list = datasets.load_pairs(pairs, directory)
    elif manifest is not None:
        samples = datasets.load_manifest(manifest)
    else:
        samples = datasets.load_dir(directory)
    import re

    source = Path(source or manifest or directory).resolve()
    name = f"{name}-{re.sub(r'[^A-Za-z0-9._-]+', '_', source.stem or 'data')}"
    res = run_eval(engine, samples=samples, pairs=pair_list, out_dir=out_dir, name=name,
                   progress=not as_json or sys.stderr.isatty())

    def render(r):
        out.print(f"{r['genuine']} genuine / {r['impostor']} impostor pairs, "
                  f"{r['failed_to_enrol']} failed to enrol")
        out.print(f"EER {100 * r['eer']:.2f}%")
        for k, v in r["fnmr_at_fmr"].items():
            out.print(f"FNMR at FMR {k}: {100 * v:.2f}%")
        out.print(f"DET plot: {r['det_plot']}")
    _emit(res, as_json, render)


# -- elections ----------------------------------------------------------------------------------
@election_app.command("create")
@handles_errors
def election_create(code: str, name: Annotated[str, typer.Option()],
                    date: Annotated[str, typer.Option(help="Election day YYYY-MM-DD")],
                    eligibility_date: Annotated[str | None, typer.Option(
                        help="Age is counted on this day (default: election day)")] = None,
                    min_age: int = 18, operator: Operator = None, data_dir: DataDir = None,
                    as_json: JsonOut = False) -> None:
    """Create an election."""
    from hawiya.elections import geography

    res = geography.create_election(_platform(data_dir), code, name, date, eligibility_date,
                                    min_age, actor=_actor(operator))
    _emit(res, as_json, lambda r: out.print(f"election {r['code']} created"))


@election_app.command("add")
@handles_errors
def election_add(kind: Annotated[str, typer.Argument(help="district | centre | station")],
                 code: str, name: str = "",
                 parent: Annotated[str | None, typer.Option(
                     help="District of a centre, centre of a station")] = None,
                 key_out: Annotated[Path | None, typer.Option(
                     help="Write a new station's private key here (0600)")] = None,
                 operator: Operator = None, data_dir: DataDir = None,
                 as_json: JsonOut = False) -> None:
    """Add a district, polling centre or station (a station gets its own signing key)."""
    from hawiya.elections import geography

    platform, actor = _platform(data_dir), _actor(operator)
    if kind == "district":
        res = geography.add_district(platform, code, name, actor=actor)
    elif kind in ("centre", "station"):
        if not parent:
            raise InvalidInput(f"a {kind} needs --parent")
        add = geography.add_centre if kind == "centre" else geography.add_station
        res = add(platform, code, name, parent, actor=actor)
    else:
        raise InvalidInput("kind must be district, centre or station")
    if key_out and "station_private_key" in res:
        fd = os.open(key_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(res.pop("station_private_key"))
        res["station_private_key_file"] = str(key_out)
    _emit(res, as_json, lambda r: out.print(f"{kind} {r['code']} added"))


@election_app.command("roll")
@handles_errors
def election_roll(action: Annotated[str, typer.Argument(
        help="build | freeze | export | pdf | exclusions")], code: str,
                  station: Annotated[str | None, typer.Option(help="export: one station")] = None,
                  output: Annotated[Path | None, typer.Option("--out", help="export: CSV file")
                                    ] = None,
                  operator: Operator = None, data_dir: DataDir = None,
                  as_json: JsonOut = False) -> None:
    """Build the roll from the registry, freeze (sign) it, export it (CSV, or one station's
    printable list as PDF), list exclusions."""
    from hawiya.elections import roll

    platform, actor = _platform(data_dir), _actor(operator)
    if action == "build":
        with Progress(TextColumn("building roll"), BarColumn(), MofNCompleteColumn(),
                      console=console, disable=as_json) as progress:
            task = progress.add_task("roll", total=None)
            res = roll.build_roll(platform, code, actor=actor, on_progress=lambda d, t:
                                  progress.update(task, completed=d, total=t))
    elif action == "freeze":
        res = roll.freeze_roll(platform, code, actor=actor)
    elif action == "export":
        text = roll.export_csv(platform, code, station)
        if output:
            output.write_text(text, encoding="utf-8")
            res = {"file": str(output), "rows": text.count("\n") - 1}
        else:
            sys.stdout.write(text)
            return
    elif action == "pdf":
        from hawiya.elections.printing import station_list_pdf

        if not (station and output):
            raise InvalidInput("pdf needs --station and --out")
        output.write_bytes(station_list_pdf(platform, code, station))
        res = {"file": str(output)}
    elif action == "exclusions":
        res = {"exclusions": roll.exclusions(platform, code)}
    else:
        raise InvalidInput("action must be build, freeze, export, pdf or exclusions")
    _emit(res, as_json, lambda r: out.print_json(data=r))


@election_app.command("check-in")
@handles_errors
def election_check_in(code: str, station: Annotated[str, typer.Option()],
                      voter_number: Annotated[str | None, typer.Option()] = None,
                      qr: Annotated[str | None, typer.Option(help="ID card QR text")] = None,
                      face: Annotated[Path | None, typer.Option()] = None,
                      iris_left: IrisLeft = None, iris_right: IrisRight = None,
                      finger: Fingers = None, operator: Operator = None, data_dir: DataDir = None,
                      as_json: JsonOut = False) -> None:
    """Check a voter in (voter number, QR or biometric search; biometric verification)."""
    from hawiya.elections import checkin

    res = checkin.check_in(_platform(data_dir), code, station, clerk=_actor(operator),
                           voter_number=voter_number, qr_text=qr, face=face,
                           irises=_irises(iris_left, iris_right),
                                fingers=_fingers(finger))
    _emit(res, as_json, lambda r: out.print(f"[bold]{r['outcome']}[/bold] "
                                            f"{r.get('voter_number') or ''}"))


@election_app.command("package")
@handles_errors
def election_package(code: str, station: str, output: Annotated[Path, typer.Option("--out")],
                     data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Write the roll copy a station takes offline (JSON)."""
    from hawiya.elections import offline

    pkg = offline.station_package(_platform(data_dir), code, station)
    output.write_text(json.dumps(pkg, ensure_ascii=False), encoding="utf-8")
    res = {"file": str(output), "voters": len(pkg["roll"])}
    _emit(res, as_json, lambda r: out.print(f"{r['voters']} voters written to {r['file']}"))


@election_app.command("sync")
@handles_errors
def election_sync(log_file: Path, operator: Operator = None, data_dir: DataDir = None,
                  as_json: JsonOut = False) -> None:
    """Take an offline station's signed check-in log (JSON)."""
    from hawiya.elections import offline

    try:
        log = json.loads(log_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read station log {log_file}: {exc}") from exc
    res = offline.sync_station_log(_platform(data_dir), log, actor=_actor(operator))
    _emit(res, as_json, lambda r: out.print_json(data=r))


@election_app.command("turnout")
@handles_errors
def election_turnout(code: str, data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Turnout by station, centre and district."""
    from hawiya.elections import turnout

    res = turnout.turnout(_platform(data_dir), code)

    def render(r):
        out.print(f"{r['election']}: {r['checked_in']} of {r['roll']} "
                  f"({100 * r['turnout']:.1f}%)")
        table = Table()
        for col in ("district", "roll", "checked in", "turnout"):
            table.add_column(col)
        for d, agg in sorted(r["district"].items()):
            table.add_row(d, str(agg["roll"]), str(agg["checked_in"]),
                          f"{100 * agg['turnout']:.1f}%")
        out.print(table)
    _emit(res, as_json, render)


@election_app.command("report")
@handles_errors
def election_report(code: str, data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Audit report: roll digest and signature, check-in digest, anomalies, audit chain."""
    from hawiya.elections import turnout

    res = turnout.audit_report(_platform(data_dir), code)
    _emit(res, as_json, lambda r: out.print_json(data=r))


# -- documents ----------------------------------------------------------------------------------
QrText = Annotated[str | None, typer.Option("--qr", help="QR text of the card")]
QrImage = Annotated[Path | None, typer.Option("--qr-image", help="Image with the card's QR")]
MrzFile = Annotated[Path | None, typer.Option("--mrz", help="File with the MRZ lines")]
MrzImage = Annotated[Path | None, typer.Option("--mrz-image", help="Photo/scan of the MRZ")]
LiveFace = Annotated[Path | None, typer.Option("--face", help="Live photo of the holder")]


def _evidence(qr, qr_image, mrz, mrz_image, face) -> dict:
    from hawiya.credentials.cards import read_qr
    from hawiya.imaging import load_image

    if qr_image is not None and not qr:
        qr = read_qr(load_image(qr_image))
        if qr is None:
            raise InvalidInput(f"no QR code found in {qr_image}")
    mrz_text = None
    if mrz is not None:
        if not mrz.is_file():
            raise InvalidInput(f"no such file: {mrz}")
        mrz_text = mrz.read_bytes()[:4096].decode("utf-8", "replace")
    return {"qr_text": qr, "mrz_text": mrz_text,
            "mrz_image": load_image(mrz_image) if mrz_image else None, "face": face}


def _render_verdict(r: dict) -> None:
    colour = "green" if r["verdict"] == "valid" else "red"
    out.print(f"[{colour}][bold]{r['verdict'].upper()}[/bold][/{colour}] "
              f"{r.get('document_number') or ''}" + ("  [red]ALERT: lost/stolen[/red]"
                                                     if r.get("alert") else ""))
    for c in r["checks"]:
        mark = {"pass": "[green]✓[/green]", "fail": "[red]✗[/red]"}.get(c["status"], "-")
        out.print(f"  {mark} {c['name']}: {c['reason']}")


@card_app.command("issue")
@handles_errors
def card_issue(person_id: str, operator: Operator = None, data_dir: DataDir = None,
               as_json: JsonOut = False) -> None:
    """Issue a TD1 ID card with a signed QR bound to the person's enrolled face."""
    from hawiya.credentials import documents

    res = documents.issue_card(_platform(data_dir), person_id, actor=_actor(operator))
    _emit(res, as_json, lambda r: out.print(f"document {r['document_number']} for "
                                            f"{r['person_id']}, expires {r['expires_on']}"))


@card_app.command("render")
@handles_errors
def card_render(document_number: str, output: Annotated[Path, typer.Option("--out")],
                fmt: Annotated[str, typer.Option("--format", help="png or pdf")] = "png",
                photo: Annotated[Path | None, typer.Option(help="Portrait to print")] = None,
                data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Render a card (photo, fields, MRZ, QR) to PNG or PDF."""
    from hawiya.credentials import documents

    if fmt not in ("png", "pdf"):
        raise InvalidInput("format must be png or pdf")
    output.write_bytes(documents.render(_platform(data_dir), document_number, fmt, photo))
    _emit({"file": str(output)}, as_json, lambda r: out.print(f"written {r['file']}"))


@card_app.command("verify")
@handles_errors
def card_verify(qr: QrText = None, qr_image: QrImage = None, mrz: MrzFile = None,
                mrz_image: MrzImage = None, face: LiveFace = None, operator: Operator = None,
                data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Verify a presented document: every check with pass/fail and the reason."""
    from hawiya.credentials import documents

    res = documents.verify_document(_platform(data_dir), actor=_actor(operator),
                                    **_evidence(qr, qr_image, mrz, mrz_image, face))
    _emit(res, as_json, _render_verdict)
    if res["verdict"] != "valid":
        raise typer.Exit(1)


@card_app.command("status")
@handles_errors
def card_status(document_number: str, status: Annotated[str, typer.Argument(
        help="revoked | lost | stolen | valid (reinstate)")], reason: str | None = None,
                operator: Operator = None, data_dir: DataDir = None,
                as_json: JsonOut = False) -> None:
    """Revoke, report lost or stolen, or reinstate a document."""
    from hawiya.credentials import documents

    res = documents.set_status(_platform(data_dir), document_number, status,
                               actor=_actor(operator), reason=reason)
    _emit(res, as_json, lambda r: out.print(f"{r['document_number']}: {r['previous']} → "
                                            f"{r['status']}"))


@card_app.command("revocation-list")
@handles_errors
def card_revocation_list(output: Annotated[Path, typer.Option("--out")],
                         data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Write the signed revocation list (COSE_Sign1) for offline verifiers."""
    from hawiya.credentials import documents

    output.write_bytes(documents.revocation_list(_platform(data_dir)))
    _emit({"file": str(output)}, as_json, lambda r: out.print(f"written {r['file']}"))


@card_app.command("keys")
@handles_errors
def card_keys(action: Annotated[str, typer.Argument(help="list | rotate | retire | export")],
              key_id: Annotated[str | None, typer.Option(help="retire: the key id")] = None,
              algorithm: Annotated[str | None, typer.Option(help="rotate: Ed25519|ES256")] = None,
              output: Annotated[Path | None, typer.Option("--out", help="export: file")] = None,
              data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Issuer keys: list, rotate (new active key), retire, export public keys."""
    from hawiya import audit
    from hawiya.credentials import keys

    platform = _platform(data_dir)
    folder = platform.issuer_keys
    if action == "list":
        res = {"keys": keys.list_keys(folder)}
    elif action == "rotate":
        res = {"active": keys.rotate(folder, algorithm)}
    elif action == "retire":
        if not key_id:
            raise InvalidInput("retire needs --key-id")
        keys.retire(folder, key_id)
        res = {"retired": key_id}
    elif action == "export":
        res = keys.public_keyset(folder)
        if output:
            output.write_text(json.dumps(res, indent=1))
    else:
        raise InvalidInput("action must be list, rotate, retire or export")
    if action in ("rotate", "retire"):
        with platform.transaction() as session:
            audit.append(session, _actor(None), f"issuer_key.{action}", None, res)
    _emit(res, as_json, lambda r: out.print_json(data=r))


@border_app.command("check")
@handles_errors
def border_check(location: Annotated[str, typer.Option(help="Border post or desk")],
                 direction: Annotated[str | None, typer.Option(help="in | out")] = None,
                 qr: QrText = None, qr_image: QrImage = None, mrz: MrzFile = None,
                 mrz_image: MrzImage = None, face: LiveFace = None, operator: Operator = None,
                 data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Verify a document, alert on lost/stolen ones and log the crossing."""
    from hawiya.credentials import documents

    res = documents.border_check(_platform(data_dir), location=location, direction=direction,
                                 actor=_actor(operator),
                                 **_evidence(qr, qr_image, mrz, mrz_image, face))
    _emit(res, as_json, _render_verdict)
    if res["verdict"] != "valid":
        raise typer.Exit(1)


# -- MRZ ----------------------------------------------------------------------------------------
def _render_mrz(r: dict) -> None:
    out.print(f"{r.get('document_type') or '?'}: "
              + ("[green]valid[/green]" if r["valid"] else "[red]NOT VALID[/red]"))
    for k, v in (r.get("fields") or {}).items():
        out.print(f"  {k}: {v}")
    for e in r.get("errors") or []:
        out.print(f"  [red]{e['field']}[/red]: {e['reason']}")
    for fix in r.get("repaired") or []:
        out.print(f"  repaired line {fix['line']} col {fix['column']}: {fix['from']}→{fix['to']}"
                  + ("" if fix.get("unique") else " (not unique)"))


@mrz_app.command("parse")
@handles_errors
def mrz_parse(source: Annotated[Path | None, typer.Argument(
        help="File with the MRZ lines (default: standard input)")] = None,
              as_json: JsonOut = False) -> None:
    """Parse and check MRZ lines (TD1, TD2, TD3): every check digit, dates, characters."""
    from hawiya.credentials.mrz import parse_mrz

    if source is None:
        text = sys.stdin.read(4096)
    else:
        if not source.is_file():
            raise InvalidInput(f"no such file: {source}")
        text = source.read_bytes()[:4096].decode("utf-8", "replace")
    res = parse_mrz(text).to_dict()
    _emit(res, as_json, _render_mrz)
    if not res["valid"]:
        raise typer.Exit(1)


@mrz_app.command("build")
@handles_errors
def mrz_build(document_type: Annotated[str, typer.Argument(help="TD1, TD2 or TD3")],
              document_number: Annotated[str, typer.Option()],
              issuing_state: Annotated[str, typer.Option()],
              nationality: Annotated[str, typer.Option()],
              date_of_birth: Annotated[str, typer.Option(help="YYYY-MM-DD")],
              sex: Annotated[str, typer.Option(help="F, M or X")],
              date_of_expiry: Annotated[str, typer.Option(help="YYYY-MM-DD")],
              surname: Annotated[str, typer.Option(help="Any script; transliterated")],
              given_names: Annotated[str, typer.Option()] = "",
              optional_data: Annotated[str, typer.Option()] = "",
              as_json: JsonOut = False) -> None:
    """Build MRZ lines with all check digits (names transliterated per ICAO 9303 Part 3)."""
    from hawiya.credentials.mrz import build

    text = build(document_type.upper(), document_number=document_number,
                 issuing_state=issuing_state, nationality=nationality,
                 date_of_birth=date_of_birth, sex=sex, date_of_expiry=date_of_expiry,
                 surname=surname, given_names=given_names, optional_data=optional_data)
    res = {"document_type": document_type.upper(), "lines": text.split("\n")}
    _emit(res, as_json, lambda r: out.print("\n".join(r["lines"]), markup=False))


@mrz_app.command("read")
@handles_errors
def mrz_read(image: Path, as_json: JsonOut = False) -> None:
    """Read the MRZ from a photo or scan of a document (OCR + check-digit-guided repair)."""
    from hawiya.credentials.mrz_ocr import read_mrz
    from hawiya.imaging import load_image

    res = read_mrz(load_image(image))
    _emit(res, as_json, lambda r: (out.print("\n".join(r["lines"] or []), markup=False),
                                   _render_mrz(r)) if r["found"] else out.print(
        "[red]no MRZ found[/red]"))
    if not res["valid"]:
        raise typer.Exit(1)


def main() -> None:
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    app()


if __name__ == "__main__":
    main()
