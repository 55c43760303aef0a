"""Labelled evaluation data: which image belongs to which identity, or which pairs to compare.

Three sources, all returning plain tuples so callers may unpack them:

* a directory with one sub-folder per identity (images found recursively inside it);
* a CSV manifest with ``path,label`` columns (relative paths are taken from the CSV's folder);
* an LFW-style ``pairs.txt`` (``name n1 n2`` genuine, ``name1 n1 name2 n2`` impostor, with an
  optional header line of counts) giving explicit comparison pairs.

Bad input (missing folder, bad columns, files that do not exist) raises
:class:`hawiya.errors.InvalidInput` with a message that names the problem.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import NamedTuple

from hawiya.errors import InvalidInput

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".pgm", ".ppm", ".pnm", ".webp",
     ".gif", ".jp2", ".j2k", ".wsq"}
)
_MAX_LISTED = 5


class Sample(NamedTuple):
    """One image and the identity it belongs to."""

    path: Path
    label: str


class Pair(NamedTuple):
    """Two images to compare and whether they show the same identity."""

    a: Path
    b: Path
    genuine: bool
    label_a: str = ""
    label_b: str = ""


def _missing_error(missing: list[Path], what: str) -> InvalidInput:
    shown = ", ".join(str(p) for p in missing[:_MAX_LISTED])
    more = f" (and {len(missing) - _MAX_LISTED} more)" if len(missing) > _MAX_LISTED else ""
    return InvalidInput(f"{len(missing)} file(s) listed in {what} do not exist: {shown}{more}",
                        missing=[str(p) for p in missing[:100]])


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def load_dir(root: str | os.PathLike) -> list[Sample]:
    """One sample per image under ``root/<identity>/`` (searched recursively).

    The label is the first-level folder name. Files directly in ``root``, hidden files and
    folders, and files without an image extension (MANIFEST, README, .txt...) are skipped.
    Samples are sorted by label, then path, so runs are reproducible.
    """
    base = Path(root)
    if not base.exists():
        raise InvalidInput(f"dataset folder does not exist: {base}")
    if not base.is_dir():
        raise InvalidInput(f"not a folder: {base} (pass a CSV manifest with --manifest)")
    samples: list[Sample] = []
    for ident in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for dirpath, dirnames, filenames in os.walk(ident):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for fn in sorted(filenames):
                path = Path(dirpath) / fn
                if is_image_path(path):
                    samples.append(Sample(path, ident.name))
    if not samples:
        raise InvalidInput(
            f"no images found in {base}: expected one sub-folder per identity with images "
            f"({', '.join(sorted(IMAGE_EXTENSIONS))}) inside"
        )
    return samples


def load_manifest(csv_path: str | os.PathLike, *, check_exists: bool = True) -> list[Sample]:
    """Samples from a CSV with (at least) the columns ``path`` and ``label``.

    Column names are matched case-insensitively; extra columns are ignored. Relative paths are
    resolved against the CSV's folder. With ``check_exists`` every listed file must exist.
    """
    path = Path(csv_path)
    if not path.is_file():
        raise InvalidInput(f"manifest not found: {path}")
    base = path.parent
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise InvalidInput(f"manifest is empty: {path}")
            cols = [h.strip().lower() for h in header]
            if "path" not in cols or "label" not in cols:
                raise InvalidInput(
                    f"manifest {path} needs the columns 'path' and 'label'; found "
                    f"{', '.join(repr(h) for h in header) or 'none'}"
                )
            ip, il = cols.index("path"), cols.index("label")
            samples: list[Sample] = []
            for lineno, row in enumerate(reader, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) <= max(ip, il):
                    raise InvalidInput(f"manifest {path} line {lineno}: too few columns")
                p, label = row[ip].strip(), row[il].strip()
                if not p or not label:
                    raise InvalidInput(f"manifest {path} line {lineno}: empty path or label")
                fp = Path(p)
                samples.append(Sample(fp if fp.is_absolute() else base / fp, label))
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"manifest {path} is not UTF-8 text: {exc}") from exc
    except csv.Error as exc:
        raise InvalidInput(f"manifest {path} is not valid CSV: {exc}") from exc
    if not samples:
        raise InvalidInput(f"manifest lists no samples: {path}")
    if check_exists:
        missing = [s.path for s in samples if not s.path.is_file()]
        if missing:
            raise _missing_error(missing, f"manifest {path}")
    return samples


def load_samples(source: str | os.PathLike) -> list[Sample]:
    """A folder of identity sub-folders, or a ``.csv`` manifest, by what ``source`` is."""
    p = Path(source)
    if p.is_file():
        if p.suffix.lower() == ".csv":
            return load_manifest(p)
        raise InvalidInput(f"expected a folder or a .csv manifest, got the file {p}")
    return load_dir(p)


def _int(token: str, path: Path, lineno: int) -> int:
    try:
        value = int(token)
    except ValueError:
        raise InvalidInput(f"pairs file {path} line {lineno}: {token!r} is not an image number"
                           ) from None
    if value < 0:
        raise InvalidInput(f"pairs file {path} line {lineno}: negative image number {value}")
    return value


def load_pairs(pairs_file: str | os.PathLike, images_root: str | os.PathLike | None = None, *,
               ext: str = ".jpg", check_exists: bool = True) -> list[Pair]:
    """Explicit pairs from an LFW-style pairs file.

    Each line is ``name n1 n2`` (a genuine pair) or ``name1 n1 name2 n2`` (an impostor pair),
    whitespace-separated; the image is ``<images_root>/<name>/<name>_<n:04d><ext>``.
    ``images_root`` defaults to the pairs file's folder. A first line of one or two integers
    (LFW's ``folds pairs-per-fold`` header) is skipped, as are blank lines and ``#`` comments.
    """
    path = Path(pairs_file)
    if not path.is_file():
        raise InvalidInput(f"pairs file not found: {path}")
    root = Path(images_root) if images_root is not None else path.parent
    if not root.is_dir():
        raise InvalidInput(f"images folder does not exist: {root}")

    def image(name: str, n: int) -> Path:
        return root / name / f"{name}_{n:04d}{ext}"

    pairs: list[Pair] = []
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"pairs file {path} is not UTF-8 text: {exc}") from exc
    for lineno, line in enumerate(lines, start=1):
        tok = line.split()
        if not tok or tok[0].startswith("#"):
            continue
        if not pairs and len(tok) <= 2 and all(t.isdigit() for t in tok):
            continue  # header: "6000" or "10 300"
        if len(tok) == 3:
            name = tok[0]
            n1, n2 = _int(tok[1], path, lineno), _int(tok[2], path, lineno)
            pairs.append(Pair(image(name, n1), image(name, n2), True, name, name))
        elif len(tok) == 4:
            a, b = tok[0], tok[2]
            n1, n2 = _int(tok[1], path, lineno), _int(tok[3], path, lineno)
            pairs.append(Pair(image(a, n1), image(b, n2), a == b, a, b))
        else:
            raise InvalidInput(
                f"pairs file {path} line {lineno}: expected 'name n1 n2' or "
                f"'name1 n1 name2 n2', got {line.strip()!r}"
            )
    if not pairs:
        raise InvalidInput(f"pairs file lists no pairs: {path}")
    if check_exists:
        seen = dict.fromkeys(p for pair in pairs for p in (pair.a, pair.b))
        missing = [p for p in seen if not p.is_file()]
        if missing:
            raise _missing_error(missing, f"pairs file {path}")
    return pairs


__all__ = ["IMAGE_EXTENSIONS", "Pair", "Sample", "is_image_path", "load_dir", "load_manifest",
           "load_pairs", "load_samples"]


FVC_NAME = re.compile(r"^(\d+)_(\d+)$")


def load_fvc(root: str | os.PathLike, ext: str = ".tif") -> list[Sample]:
    """FVC-named files (``<finger>_<impression><ext>``) below ``root``; the label is the set
    folder plus the finger number, so fingers of different sets never count as genuine."""
    base = Path(root)
    if not base.is_dir():
        raise InvalidInput(f"no such folder: {base}")
    out = []
    for path in sorted(base.rglob(f"*{ext}")):
        m = FVC_NAME.match(path.stem)
        if m:
            out.append(Sample(path, f"{path.parent.name}:{m.group(1)}"))
    if not out:
        raise InvalidInput(f"no FVC-named files (<finger>_<impression>{ext}) below {base}")
    return out
