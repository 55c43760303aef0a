"""What every command group shares: options, the platform, error handling and output.

Commands import hawiya's service modules inside the function that uses them: those pull
SQLAlchemy, Alembic, NumPy and the biometric engines (about half a second), and importing
them here would make ``hawiya --help`` (and every command that doesn't need them) that
much slower.
"""

from __future__ import annotations

import functools
import getpass
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from hawiya.errors import ConfigError, HawiyaError, InvalidInput

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


def actor_of(operator: str | None) -> str:
    """Who the audit log names: ``--operator``, else ``cli:<login>``."""
    return operator or f"cli:{getpass.getuser()}"


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
                      mrz_image: Path | None, face: Path | None) -> dict:
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
    return {"qr_text": qr, "mrz_text": mrz_text,
            "mrz_image": load_image(mrz_image) if mrz_image else None, "face": face}


def render_verdict(r: dict) -> None:
    colour = "green" if r["verdict"] == "valid" else "red"
    out.print(f"[{colour}][bold]{r['verdict'].upper()}[/bold][/{colour}] "
              f"{r.get('document_number') or ''}" + ("  [red]ALERT: lost/stolen[/red]"
                                                     if r.get("alert") else ""))
    for c in r["checks"]:
        mark = {"pass": "[green]✓[/green]", "fail": "[red]✗[/red]"}.get(c["status"], "-")
        out.print(f"  {mark} {c['name']}: {c['reason']}")
