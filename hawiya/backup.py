"""Backup and restore of a data folder: one archive, encrypted under a passphrase.

The archive is an (uncompressed) tar file with four members:

``manifest.json``
    Plain JSON anyone can read: format version, creation time, database kind, counts of
    persons, templates and audit records, the audit head hash, the KDF parameters and the
    SHA-256 of each encrypted member.
``manifest.mac``
    HMAC-SHA256 of ``manifest.json`` under a key derived from the passphrase, so neither
    the manifest nor (through its hashes) any other member can be altered unnoticed.
``database.enc``
    The registry: a consistent SQLite copy made with the online backup API (safe while the
    server runs), or a ``pg_dump -Fc`` of the PostgreSQL database (needs the PostgreSQL
    client tools ``pg_dump``/``pg_restore`` on PATH, matching the server's major version).
``keys.enc``
    A tar of the ``keys/`` folder (template key, authority and issuer signing keys).

Both payloads are encrypted: the keys obviously, the database because it holds names and
dates of birth in clear. Encryption is AES-256-GCM in 1 MiB chunks, each bound to its
member, position and finality (so chunks cannot be reordered, swapped between members or
truncated), under a key derived from the passphrase with scrypt.

Gallery snapshots are derived data and are not archived: a restored platform rebuilds them
from the registry on first use. A template key given in the environment
(``HAWIYA_TEMPLATE_KEY``) is not in ``keys/`` and so not in the archive: the manifest says
so, and the restore must run with the same key configured.

This module has no interface code; ``hawiya backup`` / ``hawiya restore`` call it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy.engine import make_url

from hawiya import __version__
from hawiya.config import Settings
from hawiya.errors import HawiyaError, InvalidInput

FORMAT = "hawiya-backup"
VERSION = 1
CHUNK = 1 << 20
MANIFEST, MAC, DATABASE, KEYS = "manifest.json", "manifest.mac", "database.enc", "keys.enc"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 15, 8, 1
_MAX_SCRYPT_N = 2 ** 20  # a manifest asking for more is refused (memory/time bomb)
_CHECK = b"hawiya-backup passphrase check"
MIN_PASSPHRASE = 8
TEMPLATE_SAMPLE = 50


class BackupError(InvalidInput):
    """The archive cannot be made or used: wrong passphrase, altered, corrupt, missing."""

    code = "backup_error"


# -- crypto ----------------------------------------------------------------------------------
def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> tuple[bytes, bytes]:
    """(encryption key, MAC key) from the passphrase."""
    if not passphrase:
        raise BackupError("the passphrase is empty")
    raw = Scrypt(salt=salt, length=64, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))
    return raw[:32], raw[32:]


def _aad(member: str, index: int, final: bool) -> bytes:
    return f"{FORMAT}/{VERSION}:{member}:{index}:{int(final)}".encode()


def _encrypt_stream(key: bytes, member: str, src: IO[bytes], dst: IO[bytes]) -> None:
    """Chunks of ``len(4) | nonce(12) | ciphertext``; the last one is marked final."""
    aead = AESGCM(key)
    index, chunk = 0, src.read(CHUNK)
    while True:
        nxt = src.read(CHUNK)
        final = not nxt
        nonce = os.urandom(12)
        ct = aead.encrypt(nonce, chunk, _aad(member, index, final))
        dst.write(len(ct).to_bytes(4, "big") + nonce + ct)
        if final:
            return
        index, chunk = index + 1, nxt


def _decrypt_stream(key: bytes, member: str, src: IO[bytes], dst: IO[bytes]) -> None:
    aead = AESGCM(key)
    index = 0
    while True:
        head = src.read(16)
        if len(head) < 16:
            raise BackupError(f"archive member {member} is truncated")
        size, nonce = int.from_bytes(head[:4], "big"), head[4:]
        if size > CHUNK + 16:
            raise BackupError(f"archive member {member} is corrupt")
        ct = src.read(size)
        if len(ct) != size:
            raise BackupError(f"archive member {member} is truncated")
        for final in (False, True):
            try:
                dst.write(aead.decrypt(nonce, ct, _aad(member, index, final)))
                break
            except InvalidTag:
                continue
        else:
            raise BackupError(f"archive member {member} failed authentication (altered)")
        if final:
            if src.read(1):
                raise BackupError(f"archive member {member} has data after its end")
            return
        index += 1


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


# -- the database ----------------------------------------------------------------------------
def database_kind(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"cannot back up a {name} database (SQLite or PostgreSQL only)")
    return name


def _sqlite_path(url: str) -> Path:
    db = make_url(url).database
    if not db or db == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(db)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URL without the password, and the environment carrying it."""
    u = make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = u.password
    plain = u.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _pg_tool(tool: str, args: list[str], env: dict[str, str]) -> None:
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} not found: backing up or restoring PostgreSQL needs the "
                          "PostgreSQL client tools on PATH")
    p = subprocess.run([tool, *args], env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise BackupError(f"{tool} failed: {p.stderr.strip()[-500:]}")


_COUNTS = {"persons": "SELECT COUNT(*) FROM persons",
           "templates": "SELECT COUNT(*) FROM templates",
           "audit_records": "SELECT COUNT(*) FROM audit_log"}
_HEAD = "SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1"


def _sqlite_snapshot(url: str, dest: Path) -> dict[str, Any]:
    """Copy the live database with the online backup API; counts from the copy itself."""
    src_path = _sqlite_path(url)
    if not src_path.exists():
        raise BackupError(f"no registry at {src_path}; run `hawiya init` first")
    src = sqlite3.connect(src_path, timeout=30)
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        counts = {k: dst.execute(q).fetchone()[0] for k, q in _COUNTS.items()}
        head = dst.execute(_HEAD).fetchone()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy the registry {src_path}: {exc}") from exc
    finally:
        dst.close()
        src.close()
    return {**counts, "audit_head": head[0] if head else None}


def _pg_snapshot(url: str, dest: Path) -> dict[str, Any]:
    """``pg_dump -Fc`` in the same snapshot the counts were read in."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                counts = {k: conn.execute(text(q)).scalar_one() for k, q in _COUNTS.items()}
                head = conn.execute(text(_HEAD)).scalar()
                target, env = _libpq(url)
                _pg_tool("pg_dump", ["-Fc", "--no-owner", f"--snapshot={snapshot}",
                                     "-f", str(dest), "-d", target], env)
    finally:
        engine.dispose()
    return {**counts, "audit_head": head}


# -- backup ----------------------------------------------------------------------------------
def _tar_keys(key_dir: Path, dest: Path) -> list[str]:
    names = []
    with tarfile.open(dest, "w") as tar:
        if key_dir.is_dir():
            for path in sorted(key_dir.rglob("*")):
                rel = path.relative_to(key_dir).as_posix()
                if path.is_symlink() or not (path.is_file() or path.is_dir()):
                    continue
                tar.add(path, arcname=rel, recursive=False, filter=_anonymous)
                if path.is_file():
                    names.append(rel)
    return names


def create_backup(settings: Settings, out: Path, passphrase: str) -> dict[str, Any]:
    """Write the archive to ``out`` (atomically, mode 0600); returns the manifest."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(f"the passphrase must be at least {MIN_PASSPHRASE} characters")
    kind = database_kind(settings.database_url or "")
    out = Path(out)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise BackupError(f"cannot write {out}: folder {parent} does not exist")
    salt = os.urandom(16)
    enc_key, mac_key = _derive(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    try:
        work_ctx = tempfile.TemporaryDirectory(prefix=".hawiya-backup-", dir=parent)
        work = Path(work_ctx.name)
    except OSError as exc:
        raise BackupError(f"cannot write {out}: {exc.strerror or exc}") from exc
    with work_ctx:
        db_plain, keys_plain = work / "database", work / "keys.tar"
        if kind == "sqlite":
            stats = _sqlite_snapshot(settings.database_url, db_plain)
        else:
            stats = _pg_snapshot(settings.database_url, db_plain)
        key_files = _tar_keys(settings.key_dir, keys_plain)
        members = {}
        for member, plain in ((DATABASE, db_plain), (KEYS, keys_plain)):
            enc = work / member
            with plain.open("rb") as src, enc.open("wb") as dst:
                _encrypt_stream(enc_key, member, src, dst)
            plain.unlink()
            members[member] = {"sha256": _sha256_file(enc), "size": enc.stat().st_size}
        manifest = {
            "format": FORMAT, "version": VERSION, "hawiya_version": __version__,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "database": kind,
            "counts": {k: stats[k] for k in _COUNTS},
            "audit_head": stats["audit_head"],
            "key_files": key_files,
            "template_key_in_archive": "template.key" in key_files,
            "kdf": {"name": "scrypt", "salt": base64.b64encode(salt).decode(),
                    "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P,
                    "check": hmac.new(mac_key, _CHECK, "sha256").hexdigest()},
            "cipher": {"name": "AES-256-GCM", "chunk": CHUNK},
            "members": members,
        }
        body = json.dumps(manifest, indent=1, sort_keys=True).encode()
        tmp = work / "archive"
        with tarfile.open(tmp, "w") as tar:
            _add_bytes(tar, MANIFEST, body)
            _add_bytes(tar, MAC, hmac.new(mac_key, body, "sha256").hexdigest().encode())
            for member in members:
                tar.add(work / member, arcname=member, filter=_anonymous)
        os.chmod(tmp, 0o600)
        try:
            os.replace(tmp, out)
        except OSError as exc:
            raise BackupError(f"cannot write {out}: {exc.strerror or exc}") from exc
    return {"file": str(out), **manifest}


def _anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """No owner names or ids in the archive; files 0600, folders 0700."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o700 if info.isdir() else 0o600
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o600
    info.mtime = int(dt.datetime.now(dt.UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


# -- reading an archive ----------------------------------------------------------------------
@contextmanager
def _open_archive(path: Path) -> Iterator[tarfile.TarFile]:
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"no such backup file: {path}")
    try:
        tar = tarfile.open(path, "r:")
    except (tarfile.TarError, EOFError) as exc:
        raise BackupError(f"{path} is not a Hawiya backup or is corrupt: {exc}") from exc
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        with tar:
            yield tar
    except (tarfile.TarError, EOFError) as exc:  # a damaged member header or body
        raise BackupError(f"{path} is corrupt: {exc}") from exc


def _member(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    try:
        info = tar.getmember(name)
    except KeyError:
        raise BackupError(f"{tar.name} is not a Hawiya backup: no {name}") from None
    fh = tar.extractfile(info) if info.isfile() else None
    if fh is None:
        raise BackupError(f"{tar.name}: {name} is not a file")
    return fh


def read_manifest(path: Path) -> dict[str, Any]:
    """The archive's manifest, unauthenticated (no passphrase needed)."""
    with _open_archive(path) as tar:
        return _parse_manifest(_member(tar, MANIFEST).read())


def _parse_manifest(body: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(body)
    except ValueError as exc:
        raise BackupError("the backup manifest is corrupt") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("not a Hawiya backup (unknown manifest format)")
    if manifest.get("version") != VERSION:
        raise BackupError(f"backup format version {manifest.get('version')} is not supported "
                          f"(this Hawiya reads version {VERSION})")
    return manifest


def _unlock(tar: tarfile.TarFile, passphrase: str) -> tuple[dict[str, Any], bytes]:
    """Check the passphrase and the manifest's MAC; (manifest, encryption key)."""
    body = _member(tar, MANIFEST).read()
    manifest = _parse_manifest(body)
    try:
        kdf = manifest["kdf"]
        n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
        salt = base64.b64decode(kdf["salt"], validate=True)
        check = str(kdf["check"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BackupError("the backup manifest is corrupt (key derivation)") from exc
    if kdf.get("name") != "scrypt" or not (2 <= n <= _MAX_SCRYPT_N and 0 < r <= 32
                                           and 0 < p <= 16):
        raise BackupError("the backup manifest asks for unsupported key derivation")
    try:
        enc_key, mac_key = _derive(passphrase, salt, n, r, p)
    except ValueError as exc:  # n not a power of two, ...
        raise BackupError(f"the backup manifest is corrupt: {exc}") from exc
    if not hmac.compare_digest(hmac.new(mac_key, _CHECK, "sha256").hexdigest(), check):
        raise BackupError("wrong passphrase for this backup")
    mac = _member(tar, MAC).read().strip().decode("ascii", "replace")
    if not hmac.compare_digest(hmac.new(mac_key, body, "sha256").hexdigest(), mac):
        raise BackupError("the backup manifest was altered (authentication failed)")
    return manifest, enc_key


def _extract(tar: tarfile.TarFile, manifest: dict, key: bytes, member: str,
             dest: Path) -> None:
    expected = (manifest.get("members") or {}).get(member) or {}
    h = hashlib.sha256()
    src = _member(tar, member)

    class _Hashing:
        def read(self, n: int) -> bytes:
            data = src.read(n)
            h.update(data)
            return data

    with dest.open("wb") as dst:
        _decrypt_stream(key, member, _Hashing(), dst)  # type: ignore[arg-type]
    if h.hexdigest() != expected.get("sha256"):
        raise BackupError(f"archive member {member} does not match the manifest (altered)")


# -- restore ---------------------------------------------------------------------------------
def _target_state(settings: Settings, kind: str) -> list[str]:
    """What already lives at the target (empty: safe to restore without --force)."""
    found = []
    d = settings.data_dir
    if d.is_dir():
        found += sorted(p.name for p in d.iterdir())
    if kind == "sqlite":
        db = _sqlite_path(settings.database_url)
        if db.exists() and db.parent.resolve() != d.resolve():
            found.append(str(db))
    else:
        from sqlalchemy import create_engine, inspect

        engine = create_engine(settings.database_url)
        try:
            with engine.connect() as conn:
                tables = inspect(conn).get_table_names()
        except Exception as exc:  # any driver error: the target cannot be reached
            raise BackupError(f"cannot reach the target database: {exc}") from exc
        finally:
            engine.dispose()
        found += [f"database table {t}" for t in tables]
    return found


def restore_backup(path: Path, settings: Settings, passphrase: str, *,
                   force: bool = False) -> dict[str, Any]:
    """Restore the archive into ``settings``' data folder (and database); then verify.

    Refuses a non-empty target unless ``force``. Everything is decrypted and checked into a
    staging folder first; only then are the database file and the keys folder swapped in
    with renames, so a failure leaves the target as it was.
    """
    path = Path(path)
    with _open_archive(path) as tar:
        manifest, key = _unlock(tar, passphrase)
        kind = manifest.get("database")
        target_kind = database_kind(settings.database_url or "")
        if kind != target_kind:
            raise BackupError(f"the backup holds a {kind} registry but the target is "
                              f"configured for {target_kind}")
        existing = _target_state(settings, kind)
        if existing and not force:
            raise BackupError(f"{settings.data_dir} is not empty ({', '.join(existing[:5])}"
                              f"{', ...' if len(existing) > 5 else ''}); use --force to "
                              "replace it")
        d = settings.data_dir
        try:
            d.mkdir(parents=True, exist_ok=True)
            stage_ctx = tempfile.TemporaryDirectory(prefix=".restore-", dir=d)
        except OSError as exc:
            raise BackupError(f"cannot write {d}: {exc.strerror or exc}") from exc
        with stage_ctx:
            stage = Path(stage_ctx.name)
            db_file, keys_tar = stage / "database", stage / "keys.tar"
            _extract(tar, manifest, key, DATABASE, db_file)
            _extract(tar, manifest, key, KEYS, keys_tar)
            new_keys = stage / "keys"
            _untar_keys(keys_tar, new_keys)
            try:
                if kind == "sqlite":
                    _swap_in_sqlite(db_file, _sqlite_path(settings.database_url))
                else:
                    target, env = _libpq(settings.database_url)
                    _pg_tool("pg_restore", ["--clean", "--if-exists", "--no-owner",
                                            "--exit-on-error", "-d", target, str(db_file)],
                             env)
                _swap_in_dir(new_keys, settings.key_dir, stage / "old-keys")
                if settings.gallery_dir.exists():  # derived data of the old registry
                    shutil.rmtree(settings.gallery_dir, ignore_errors=True)
            except OSError as exc:
                raise BackupError(f"cannot write {d}: {exc.strerror or exc}") from exc
    from hawiya.platform import Platform

    platform = Platform(settings)
    try:
        verification = verify_restore(platform, manifest)
    finally:
        platform.engine.dispose()
    return {"restored": str(path), "data_dir": str(settings.data_dir),
            "database": kind, "manifest": manifest, "verification": verification}


def _untar_keys(archive: Path, dest: Path) -> None:
    dest.mkdir(mode=0o700)
    with tarfile.open(archive, "r:") as tar:
        try:
            tar.extractall(dest, filter="data")
        except tarfile.TarError as exc:
            raise BackupError(f"the keys in the backup are unusable: {exc}") from exc
    for p in dest.rglob("*"):
        p.chmod(0o700 if p.is_dir() else 0o600)


def _swap_in_sqlite(db_file: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(db_file, 0o600)
    for suffix in ("-wal", "-shm", "-journal"):  # a stale WAL would be replayed onto it
        with suppress(FileNotFoundError):
            os.unlink(f"{target}{suffix}")
    os.replace(db_file, target)


def _swap_in_dir(new: Path, target: Path, old: Path) -> None:
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)


# -- verification ----------------------------------------------------------------------------
def verify_restore(platform: Any, manifest: dict[str, Any],
                   sample: int = TEMPLATE_SAMPLE) -> dict[str, Any]:
    """Check a restored platform: the audit chain (and that it ends where the manifest
    says), the counts, and that a sample of templates decrypts with the restored key."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError

    from hawiya import audit
    from hawiya.identity.templates import decrypt_template
    from hawiya.registry.models import AuditRecord, BiometricTemplate, Person

    res: dict[str, Any] = {"ok": False}
    try:
        with platform.transaction() as session:
            chain = audit.verify_chain(session)
            counts = {
                "persons": session.scalar(select(func.count()).select_from(Person)),
                "templates": session.scalar(select(func.count()).select_from(BiometricTemplate)),
                "audit_records": session.scalar(select(func.count()).select_from(AuditRecord)),
            }
            rows = session.execute(
                select(BiometricTemplate, Person.person_id)
                .join(Person, Person.id == BiometricTemplate.person_db_id)
                .order_by(func.random()).limit(sample)).all()
            failed = []
            for row, person_id in rows:
                try:
                    decrypt_template(platform, row, person_id)
                except HawiyaError as exc:
                    failed.append({"template": row.id, "person_id": person_id,
                                   "reason": exc.message})
    except HawiyaError as exc:  # e.g. no template key
        res["error"] = exc.message
        return res
    except SQLAlchemyError as exc:
        res["error"] = f"the restored registry cannot be read: {exc.__class__.__name__}"
        return res
    chain["head_matches_manifest"] = chain.get("head", audit.GENESIS) == (
        manifest.get("audit_head") or audit.GENESIS) if chain["ok"] else False
    res.update(
        audit=chain, counts=counts,
        counts_match=counts == manifest.get("counts"),
        templates={"sampled": len(rows), "decrypted": len(rows) - len(failed),
                   "failed": failed})
    res["ok"] = bool(chain["ok"] and chain["head_matches_manifest"] and res["counts_match"]
                     and not failed)
    return res
