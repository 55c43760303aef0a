"""What every command group shares: options, the platform, error handling and output.

Commands import hawiya's service modules inside the function that uses them: those pull
SQLAlchemy, Alembic, NumPy and the biometric engines (about half a second), and importing
them here would make ``hawiya --help`` (and every command that doesn't need them) that
much slower.
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from hawiya.errors import AuthError, ConfigError, Forbidden, HawiyaError, InvalidInput

console = Console(stderr=True)
out = Console()

DataDir = Annotated[Path | None, typer.Option("--data-dir", envvar="HAWIYA_DATA_DIR",
                                                 help="Data folder (default ./hawiya-data)")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print one JSON object (last line)")]
IrisLeft = Annotated[Path | None, typer.Option("--iris-left", help="Left-eye iris image")]
IrisRight = Annotated[Path | None, typer.Option("--iris-right", help="Right-eye iris image")]
Fingers = Annotated[list[str] | None, typer.Option(
    "--finger", help="POSITION=IMAGE, e.g. right-index=scan.png (repeat, up to ten)")]
Captures = Annotated[list[str] | None, typer.Option(
    "--capture", help="MODALITY[:POSITION]=IMAGE, any registered modality (repeat)")]
Operator = Annotated[str | None, typer.Option("--operator", help="Who is acting (audit)")]

# Presented documents (card verify, border check).
QrText = Annotated[str | None, typer.Option("--qr", help="QR text of the card")]
QrImage = Annotated[Path | None, typer.Option("--qr-image", help="Image with the card's QR")]
MrzFile = Annotated[Path | None, typer.Option("--mrz", help="File with the MRZ lines")]
MrzImage = Annotated[Path | None, typer.Option("--mrz-image", help="Photo/scan of the MRZ")]
LiveFace = Annotated[Path | None, typer.Option("--face", help="Live photo of the holder")]
ChipDir = Annotated[Path | None, typer.Option(
    "--chip", help="Folder with a passport chip's EF.SOD and data groups (DG1.bin, DG2.bin…) "
                   "from any NFC reader, for passive authentication")]

# Set by the root callback from the global ``hawiya --data-dir``.
state: dict = {"data_dir": None}


def open_platform(data_dir: Path | None, must_exist: bool = True):
    """The Platform for ``--data-dir`` (or the global one); an error if not initialised."""
    from hawiya.app import build_platform
    from hawiya.config import load_settings

    settings = load_settings(data_dir or state["data_dir"])
    if must_exist and settings.database_url.startswith("sqlite") and \
            not (settings.data_dir / "hawiya.db").exists():
        raise HawiyaError(f"no registry in {settings.data_dir}; run `hawiya init` first")
    return build_platform(settings)


# -- who is acting ------------------------------------------------------------------------
# With `hawiya login` a command acts as that account: the audit log names the username and
# the command checks the account's role as the API does. Without a login (the embedded,
# single-machine default) it acts as the OS account, ``os:<user>``, and checks no role:
# whoever can run it can already read and write the data folder. ``--operator`` never
# replaces who acted; it adds a label, ``<who> [LABEL]``, and a logged-in account other
# than an admin may not add one.
OPERATOR_LABEL = re.compile(r"^[A-Za-z0-9_.@:/ -]{1,40}$")


def os_user() -> str:
    """The OS account running this process, from the real user id (not $USER/$LOGNAME,
    which anyone can set)."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):  # Windows, or a uid with no passwd entry
        return getpass.getuser() if os.name == "nt" else f"uid{os.getuid()}"


def actor_of(operator: str | None, user: Any = None) -> str:
    """Who the audit log names: the logged-in ``user``'s username, else ``os:<OS user>``;
    an ``--operator`` label is appended as ``<who> [LABEL]`` (an admin's or, without a
    login, anyone's; another logged-in role may only name itself)."""
    who = user.username if user is not None else f"os:{os_user()}"
    label = (operator or "").strip()
    if not label or (user is not None and label == user.username):
        return who
    if user is not None and user.role != "admin":
        raise Forbidden(f"--operator: you are logged in as {user.username!r} "
                        f"({user.role}); only an admin may add an operator label")
    if not OPERATOR_LABEL.match(label):
        raise InvalidInput("--operator: a label of 1-40 letters, digits, spaces or _.@:/-")
    return f"{who} [{label}]"[:100]


def _config_home() -> Path:
    if os.name == "nt" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"])
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".config"


def session_file(data_dir: Path) -> Path:
    """Where this OS user's CLI session for the registry in ``data_dir`` is kept:
    ``~/.config/hawiya/sessions/<digest of the data folder>.json`` (0600, folder 0700)."""
    digest = hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:24]
    return _config_home() / "hawiya" / "sessions" / f"{digest}.json"


def read_session(data_dir: Path) -> dict | None:
    """The saved session for ``data_dir`` (None without a login). A file that another OS
    account owns, or that others may read, is refused rather than used."""
    path = session_file(data_dir)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuthError(f"cannot read the CLI session {path}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if os.name != "nt" and (st.st_uid != os.getuid() or st.st_mode & 0o077):
            raise AuthError(f"refusing the CLI session {path}: it must belong to you and be "
                            "readable by you alone (0600); delete it and log in again")
        try:
            info = json.loads(fh.read(64 * 1024))
        except ValueError:
            info = None
    if not isinstance(info, dict) or not isinstance(info.get("token"), str) or \
            info.get("data_dir") != str(Path(data_dir).resolve()):
        raise AuthError(f"the CLI session {path} is damaged; run `hawiya logout`")
    return info


def write_session(data_dir: Path, info: dict) -> Path:
    path = session_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name != "nt":
        os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({**info, "data_dir": str(Path(data_dir).resolve())}, fh)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def session_user(platform) -> Any:
    """The account logged in (``hawiya login``) to ``platform``'s registry, or None. An
    expired or revoked session is an error, not a silent fall-back to the OS account."""
    from hawiya import auth

    info = read_session(platform.settings.data_dir)
    if info is None:
        return None
    try:
        with platform.transaction() as session:
            user = auth.user_for_token(session, info["token"])
            session.expunge(user)
    except AuthError as exc:
        raise AuthError(f"CLI session of {info.get('username')!r}: {exc.message}; run "
                        "`hawiya login` again (or `hawiya logout`)") from None
    return user


def act_as(platform, operator: str | None, *roles: str, station: str | None = None,
           label: bool = True) -> str:
    """The actor for this command's audit records, after the checks the API makes: when
    logged in, the account must hold one of ``roles`` (admin always may; no roles: admin
    only) and a polling clerk only acts for its own ``station``. ``label=False``: no
    ``--operator`` label (where the actor's identity is compared, as in four-eyes)."""
    from hawiya import auth

    user = session_user(platform)
    if user is not None:
        auth.require_role(user, *roles)
        if station is not None and user.role == "polling_clerk" and user.station_code and \
                user.station_code != station:
            raise Forbidden(f"this account is for station {user.station_code}, not {station}")
    if not label and operator and (user is None or operator != user.username):
        raise InvalidInput("--operator cannot be used here: the actor's identity is compared "
                           "(four-eyes); log in as yourself with `hawiya login`")
    return actor_of(operator, user)


def check_role(data_dir: Path | None, *roles: str) -> None:
    """For commands that take a data folder, not a platform (backup, restore): when
    logged in to that registry, the account must hold one of ``roles``."""
    from hawiya.config import load_settings

    settings = load_settings(data_dir or state["data_dir"])
    if read_session(settings.data_dir) is None:
        return
    if settings.database_url.startswith("sqlite") and \
            not (settings.data_dir / "hawiya.db").exists():
        return  # no registry there yet (a restore into an empty folder): nothing to check
    platform = open_platform(settings.data_dir)
    try:
        act_as(platform, None, *roles)
    finally:
        platform.close()


def _fingers(items: list[str] | None) -> list[tuple[str, Path]]:
    pairs = []
    for item in items or []:
        position, sep, path = item.partition("=")
        if not sep:
            position, path = "unknown", item
        pairs.append((position.strip(), Path(path)))
    return pairs


def _irises(left: Path | None, right: Path | None) -> list[tuple[str, Path]]:
    return [(pos, img) for pos, img in (("left-iris", left), ("right-iris", right)) if img]


def capture_options(face: Path | list[Path] | None, iris_left: Path | None,
                    iris_right: Path | None, fingers: list[str] | None,
                    captures: list[str] | None = None) -> list:
    """The biometric captures given on the command line (``--face``, ``--iris-left/right``,
    ``--finger POS=IMG`` and the generic ``--capture MODALITY[:POSITION]=IMAGE``), as the
    Capture list the identity and election services take. The one place that turns
    capture options into captures."""
    from hawiya.biometrics import modalities
    from hawiya.biometrics.capture import Capture, classic_captures, parse_capture_spec

    faces = face if isinstance(face, list) else ([face] if face else [])
    out = classic_captures(faces, _irises(iris_left, iris_right), _fingers(fingers))
    for item in captures or []:
        spec, sep, path = item.partition("=")
        if not sep or not path.strip() or not spec.strip():
            raise InvalidInput(f"--capture {item!r}: expected MODALITY[:POSITION]=IMAGE")
        modality, position = parse_capture_spec(spec)
        out.append(Capture(modality, Path(path.strip()), position))
    modalities.check_labels(out)  # an unknown modality or position before any file is read
    return out


def emit(result: Any, as_json: bool, render: Callable[[dict], Any]) -> None:
    """Print ``result`` as one JSON line (``--json``), or for people with ``render``. A typed
    service result prints the fields it set, as the API's body does."""
    if hasattr(result, "model_dump"):
        result = result.model_dump(mode="json", exclude_unset=True)
    if as_json:
        print(json.dumps(result, default=str, ensure_ascii=False))
    else:
        render(result)


def write_out(path: Path, data: bytes | str) -> Path:
    """Write an ``--out`` file (text as UTF-8); a file that cannot be written is a clear
    error naming the path and the reason, not a traceback."""
    try:
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


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
            raise typer.Exit(2 if isinstance(exc, InvalidInput | ConfigError) else 1) from None
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/yellow]")
            raise typer.Exit(130) from None

    return wrapper


def progress_bar(label: str, *, eta: bool = False, disable: bool = False) -> Progress:
    """A progress bar on stderr: label, bar, done/total (and time remaining with ``eta``)."""
    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn()]
    if eta:
        columns.append(TimeRemainingColumn())
    return Progress(*columns, console=console, disable=disable)


def candidates_table(cands: list[dict], title: str) -> None:
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


def document_evidence(qr: str | None, qr_image: Path | None, mrz: Path | None,
                      mrz_image: Path | None, face: Path | None,
                      chip: Path | None = None) -> dict:
    """The presented-document options as ``verify_document``/``border_check`` keywords."""
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
    evidence = {"qr_text": qr, "mrz_text": mrz_text,
                "mrz_image": load_image(mrz_image) if mrz_image else None, "face": face}
    if chip is not None:
        from hawiya.credentials.desk_chip import ChipData

        evidence["chip"] = ChipData.load(chip)
    return evidence


def render_verdict(r: dict) -> None:
    colour = "green" if r["verdict"] == "valid" else "red"
    out.print(f"[{colour}][bold]{r['verdict'].upper()}[/bold][/{colour}] "
              f"{r.get('issuing_state') or ''} {r.get('document_number') or ''}")
    if r.get("alert"):
        out.print(f"[bold white on red] ALERT: {r.get('alert_reason') or 'lost/stolen'} "
                  "[/bold white on red]", markup=True)
    if r.get("summary"):
        out.print(f"  {r['summary']}", markup=False)
    for c in r["checks"]:
        mark = {"pass": "[green]✓[/green]", "fail": "[red]✗[/red]"}.get(c["status"], "-")
        out.print(f"  {mark} {c['name']}: {c['reason']}")
