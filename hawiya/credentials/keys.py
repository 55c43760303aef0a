"""Issuer signing keys on disk: create, rotate, retire, and export for offline verifiers.

A key folder (for example ``DATA_DIR/keys/issuer/``) holds one private key per file,
``<kid>.pem`` (PKCS#8, unencrypted, mode 0600), and the state file ``keyset.json``
(written atomically: temporary file, fsync, rename) that lists every key with its
algorithm, public key, status and dates. Changes take an exclusive lock on ``.lock`` so two
processes rotating at once cannot lose a key.

Key statuses:

* ``active`` -- the one key that signs new credentials (at most one);
* ``valid`` -- no longer (or not yet) signing, still trusted for verification, so cards
  issued before a rotation keep verifying;
* ``retired`` -- no longer trusted: everything it signed verifies as "key retired". Its
  private key file is kept (key destruction is an operator's decision) but is never loaded
  for signing again.

The key id (``kid``) is the first 8 bytes of the SHA-256 of the public key's DER
SubjectPublicKeyInfo, as 16 hex characters; in a COSE header it travels as those 8 bytes.

Algorithms: ``Ed25519`` (COSE ``EdDSA``, -8) and ``ES256`` (ECDSA P-256 with SHA-256, -7).
:meth:`SigningKey.sign` returns COSE signatures (ES256 as raw ``r || s``, 64 bytes, not
DER) and :meth:`PublicKeyEntry.verify` checks them.

Backends: a folder with an ``hsm.json`` keeps the private keys it creates from then on in a
hardware security module over PKCS#11 (:mod:`hawiya.credentials.hsm`, which documents the
file); their ``keyset.json`` entries carry ``"backend": "pkcs11"`` and the token, label and
object id instead of ``file``. Signing goes through the token and the key never leaves it.
PEM keys created before ``hsm.json`` appeared keep working, so a folder can move to an HSM
by a rotation. Without ``hsm.json``, PEM files are the embedded default.

Verifiers that only have the export use :meth:`KeySet.from_export`, which checks every
entry (known algorithm and status, a public key of that algorithm, a kid that really is the
hash of that key) and raises :class:`~hawiya.errors.InvalidInput` otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from hawiya.credentials import hsm
from hawiya.errors import ConfigError, InvalidInput, NotFound

try:  # POSIX advisory locking; elsewhere changes are still atomic, only not serialised
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

ALGORITHMS = ("Ed25519", "ES256")
COSE_ALG = {"Ed25519": -8, "ES256": -7}  # RFC 9053: EdDSA = -8, ES256 = -7
COSE_ALG_NAMES = {v: k for k, v in COSE_ALG.items()}
STATUSES = ("active", "valid", "retired")
STATE_FILE = "keyset.json"
STATE_FORMAT = "hawiya-issuer-keys"
EXPORT_FORMAT = "hawiya-keyset"
FORMAT_VERSION = 1
KID_BYTES = 8
_KID_RE = re.compile(r"[0-9a-f]{16}")
_ES256_HALF = 32
MAX_EXPORT_KEYS = 1000


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _spki(public_key: Any) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(public_key: Any) -> str:
    """The key id of a public key: first 8 bytes of SHA-256(SPKI DER), hex."""
    return hashlib.sha256(_spki(public_key)).digest()[:KID_BYTES].hex()


def _public_pem(public_key: Any) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _algorithm_of(key: Any) -> str | None:
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "Ed25519"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)) and \
            isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    return None


def _check_algorithm(algorithm: str) -> str:
    if algorithm not in ALGORITHMS:
        raise InvalidInput(f"unknown signing algorithm {algorithm!r}: "
                           f"{' or '.join(ALGORITHMS)}")
    return algorithm


# --------------------------------------------------------------------------- key objects

@dataclass(frozen=True)
class SigningKey:
    """A private key able to sign, with its id and algorithm."""

    kid: str
    algorithm: str
    private_key: Any

    @property
    def kid_bytes(self) -> bytes:
        return bytes.fromhex(self.kid)

    @property
    def cose_alg(self) -> int:
        return COSE_ALG[self.algorithm]

    def sign(self, data: bytes) -> bytes:
        """A COSE signature of ``data``: Ed25519 (64 bytes) or ES256 as raw r || s."""
        if self.algorithm == "Ed25519":
            return self.private_key.sign(data)
        der = self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return r.to_bytes(_ES256_HALF, "big") + s.to_bytes(_ES256_HALF, "big")

    def public_entry(self, *, status: str = "active", created: str = "") -> PublicKeyEntry:
        return PublicKeyEntry(self.kid, self.algorithm, status, created, None,
                              self.private_key.public_key())


@dataclass(frozen=True)
class PublicKeyEntry:
    """One verification key: id, algorithm, status and dates, and the public key."""

    kid: str
    algorithm: str
    status: str
    created: str
    retired: str | None
    public_key: Any

    @property
    def cose_alg(self) -> int:
        return COSE_ALG[self.algorithm]

    def verify(self, signature: bytes, data: bytes) -> bool:
        """True when ``signature`` (COSE form) is this key's signature of ``data``."""
        try:
            if self.algorithm == "Ed25519":
                if len(signature) != 64:
                    return False
                self.public_key.verify(signature, data)
                return True
            if len(signature) != 2 * _ES256_HALF:
                return False
            r = int.from_bytes(signature[:_ES256_HALF], "big")
            s = int.from_bytes(signature[_ES256_HALF:], "big")
            if r == 0 or s == 0:
                return False
            self.public_key.verify(encode_dss_signature(r, s), data,
                                   ec.ECDSA(hashes.SHA256()))
            return True
        except (InvalidSignature, ValueError):
            return False

    def to_dict(self) -> dict[str, Any]:
        return {"kid": self.kid, "algorithm": self.algorithm, "status": self.status,
                "created": self.created, "retired": self.retired,
                "public_key": _public_pem(self.public_key)}


class KeySet:
    """The verification keys a verifier trusts (or distrusts, when retired), by kid."""

    def __init__(self, entries: Iterable[PublicKeyEntry]):
        self._by_kid: dict[str, PublicKeyEntry] = {}
        for entry in entries:
            if entry.kid in self._by_kid:
                raise InvalidInput(f"key id {entry.kid} appears twice in the key set")
            self._by_kid[entry.kid] = entry

    def get(self, kid: str | bytes) -> PublicKeyEntry | None:
        """The entry for a kid given as hex text or as the 8 raw bytes; None if unknown."""
        if isinstance(kid, (bytes, bytearray)):
            kid = bytes(kid).hex()
        if not isinstance(kid, str):
            return None
        return self._by_kid.get(kid.lower())

    def __iter__(self) -> Iterator[PublicKeyEntry]:
        return iter(self._by_kid.values())

    def __len__(self) -> int:
        return len(self._by_kid)

    def __contains__(self, kid: object) -> bool:
        return isinstance(kid, (str, bytes, bytearray)) and self.get(kid) is not None

    def export(self) -> dict[str, Any]:
        """The JSON-serialisable export that :meth:`from_export` reads back."""
        return {"format": EXPORT_FORMAT, "version": FORMAT_VERSION, "exported": _now(),
                "keys": [e.to_dict() for e in self]}

    @classmethod
    def from_folder(cls, folder: str | os.PathLike) -> KeySet:
        return cls.from_export(public_keyset(folder))

    @classmethod
    def from_export(cls, data: Any) -> KeySet:
        """Read an export made by :func:`public_keyset`; every entry is checked."""
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise InvalidInput(f"key set export is not JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
            raise InvalidInput(f"not a key set export (format {EXPORT_FORMAT!r} expected)")
        if data.get("version") != FORMAT_VERSION:
            raise InvalidInput(f"key set export version {data.get('version')!r} is not "
                               f"supported (version {FORMAT_VERSION} expected)")
        keys = data.get("keys")
        if not isinstance(keys, list):
            raise InvalidInput("key set export: 'keys' must be a list")
        if len(keys) > MAX_EXPORT_KEYS:
            raise InvalidInput(f"key set export holds more than {MAX_EXPORT_KEYS} keys")
        return cls(_entry_from_dict(item, i) for i, item in enumerate(keys))


def _entry_from_dict(item: Any, index: int) -> PublicKeyEntry:
    where = f"key set entry {index}"
    if not isinstance(item, dict):
        raise InvalidInput(f"{where} is not an object")
    kid, algorithm, status = item.get("kid"), item.get("algorithm"), item.get("status")
    created, retired, pem = item.get("created", ""), item.get("retired"), item.get("public_key")
    if not isinstance(kid, str) or not _KID_RE.fullmatch(kid):
        raise InvalidInput(f"{where}: kid must be 16 lower-case hex characters")
    if algorithm not in ALGORITHMS:
        raise InvalidInput(f"{where} ({kid}): unknown algorithm {algorithm!r}")
    if status not in STATUSES:
        raise InvalidInput(f"{where} ({kid}): unknown status {status!r}")
    if not isinstance(created, str) or not (retired is None or isinstance(retired, str)):
        raise InvalidInput(f"{where} ({kid}): dates must be text")
    if not isinstance(pem, str) or len(pem) > 4096:
        raise InvalidInput(f"{where} ({kid}): public_key must be a PEM text")
    try:
        public_key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{where} ({kid}): public key does not load: {exc}") from exc
    if _algorithm_of(public_key) != algorithm:
        raise InvalidInput(f"{where} ({kid}): the public key is not an {algorithm} key")
    if key_id(public_key) != kid:
        raise InvalidInput(f"{where}: kid {kid} is not the hash of its public key "
                           f"({key_id(public_key)})")
    return PublicKeyEntry(kid, algorithm, status, created, retired, public_key)


# --------------------------------------------------------------------------- folder state

@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _read_state(folder: Path) -> dict[str, Any]:
    path = folder / STATE_FILE
    if not path.exists():
        return {"format": STATE_FORMAT, "version": FORMAT_VERSION, "keys": []}
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"issuer key state {path} is unreadable: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT or \
            not isinstance(state.get("keys"), list):
        raise ConfigError(f"{path} is not an issuer key state file")
    if state.get("version") != FORMAT_VERSION:
        raise ConfigError(f"{path}: state version {state.get('version')!r} not supported")
    for entry in state["keys"]:
        if not _entry_ok(entry):
            raise ConfigError(f"{path} holds a malformed key entry")
    if sum(1 for k in state["keys"] if k.get("status") == "active") > 1:
        raise ConfigError(f"{path} lists more than one active key")
    return state


def _entry_ok(entry: Any) -> bool:
    if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in
            ("kid", "algorithm", "status", "public_key")) or \
            entry["status"] not in STATUSES or entry["algorithm"] not in ALGORITHMS or \
            not _KID_RE.fullmatch(entry["kid"]):
        return False
    if "backend" not in entry:  # a PEM file next to keyset.json
        return entry.get("file") == f"{entry['kid']}.pem"
    return entry["backend"] == hsm.BACKEND and "file" not in entry and all(
        isinstance(entry.get(k), str) and entry[k] for k in ("token", "label", "object_id"))


def _write_state(folder: Path, state: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".keyset-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(state, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, folder / STATE_FILE)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _generate(algorithm: str) -> Any:
    if algorithm == "Ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def _new_key(folder: Path, state: dict[str, Any], algorithm: str, status: str) -> str:
    existing = {k["kid"] for k in state["keys"]}
    config = hsm.read_config(folder)
    if config is not None:  # generated on the token; only the public part comes out
        public_key, ref = hsm.generate_key(config, algorithm)
        kid = key_id(public_key)
        if kid in existing:  # pragma: no cover - a 64-bit hash collision
            raise ConfigError(f"new HSM key {ref['label']} collides with key {kid}")
        state["keys"].append({
            "kid": kid, "algorithm": algorithm, "status": status, "created": _now(),
            "retired": None, **ref, "public_key": _public_pem(public_key),
        })
        return kid
    while True:  # a collision of 64-bit hashes is not expected; never overwrite all the same
        private_key = _generate(algorithm)
        kid = key_id(private_key.public_key())
        if kid not in existing and not (folder / f"{kid}.pem").exists():
            break
    pem = private_key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    fd = os.open(folder / f"{kid}.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
        fh.flush()
        os.fsync(fh.fileno())
    state["keys"].append({
        "kid": kid, "algorithm": algorithm, "status": status, "created": _now(),
        "retired": None, "file": f"{kid}.pem",
        "public_key": _public_pem(private_key.public_key()),
    })
    return kid


def create_key(folder: str | os.PathLike, algorithm: str = "Ed25519", *,
               activate: bool | None = None) -> str:
    """Create a key in ``folder`` and return its kid.

    By default the new key becomes active only when the folder has no active key; otherwise
    it is added as ``valid`` (published to verifiers before it signs, which a later
    :func:`activate` or :func:`rotate` can switch to). ``activate=True`` makes it active at
    once (the previously active key stays valid).
    """
    _check_algorithm(algorithm)
    folder = Path(folder)
    with _locked(folder):
        state = _read_state(folder)
        active = [k for k in state["keys"] if k["status"] == "active"]
        make_active = (not active) if activate is None else bool(activate)
        if make_active:
            for k in active:
                k["status"] = "valid"
        kid = _new_key(folder, state, algorithm, "active" if make_active else "valid")
        _write_state(folder, state)
    return kid


def rotate(folder: str | os.PathLike, algorithm: str | None = None) -> str:
    """Create a new key and make it the active one; the previous active key stays valid.

    ``algorithm`` defaults to that of the current active key (Ed25519 when there is none).
    """
    folder = Path(folder)
    if algorithm is None:
        with _locked(folder):
            active = [k for k in _read_state(folder)["keys"] if k["status"] == "active"]
        algorithm = active[0]["algorithm"] if active else "Ed25519"
    return create_key(folder, algorithm, activate=True)


def activate(folder: str | os.PathLike, key_id: str) -> None:
    """Make an existing ``valid`` key the active one (a retired key cannot come back)."""
    folder = Path(folder)
    with _locked(folder):
        state = _read_state(folder)
        entry = _find(state, key_id, folder)
        if entry["status"] == "retired":
            raise InvalidInput(f"key {key_id} is retired and cannot sign again")
        for k in state["keys"]:
            if k["status"] == "active":
                k["status"] = "valid"
        entry["status"] = "active"
        _write_state(folder, state)


def retire(folder: str | os.PathLike, key_id: str) -> None:
    """Stop trusting a key: what it signed verifies as "key retired". Idempotent.

    Retiring the active key (for example after a compromise) leaves no active key: signing
    fails until :func:`rotate` makes a new one.
    """
    folder = Path(folder)
    with _locked(folder):
        state = _read_state(folder)
        entry = _find(state, key_id, folder)
        if entry["status"] != "retired":
            entry["status"] = "retired"
            entry["retired"] = _now()
            _write_state(folder, state)


def _find(state: dict[str, Any], key_id: str, folder: Path) -> dict[str, Any]:
    kid = str(key_id).lower()
    for k in state["keys"]:
        if k["kid"] == kid:
            return k
    raise NotFound(f"no key {key_id!r} in {folder}")


def active_key(folder: str | os.PathLike) -> SigningKey:
    """The active signing key of ``folder``; ConfigError when there is none."""
    folder = Path(folder)
    state = _read_state(folder)
    active = [k for k in state["keys"] if k["status"] == "active"]
    if not active:
        raise ConfigError(f"no active issuer key in {folder}: create or rotate one first")
    return load_signing_key(folder, active[0]["kid"], _state=state)


def load_signing_key(folder: str | os.PathLike, key_id: str, *,
                     _state: dict[str, Any] | None = None) -> SigningKey:
    """The private key ``key_id`` of ``folder`` (refused when retired)."""
    folder = Path(folder)
    state = _state if _state is not None else _read_state(folder)
    entry = _find(state, key_id, folder)
    if entry["status"] == "retired":
        raise ConfigError(f"key {key_id} is retired and may not sign")
    if "backend" in entry:
        config = hsm.read_config(folder)
        if config is None:
            raise ConfigError(f"key {entry['kid']} lives in an HSM but {folder} has no "
                              f"{hsm.CONFIG_FILE}")
        private_key = hsm.load_private_key(
            config, {k: entry[k] for k in ("backend", "token", "label", "object_id")},
            entry["algorithm"])
        if key_id_of_private(private_key) != entry["kid"]:
            raise ConfigError(f"HSM key {entry['label']} does not match key {entry['kid']} "
                              f"in {STATE_FILE}")
        return SigningKey(entry["kid"], entry["algorithm"], private_key)
    path = folder / entry["file"]
    try:
        if os.name == "posix" and path.stat().st_mode & 0o077:
            raise ConfigError(f"private key {path} is readable by other users; "
                              "chmod 600 it")
        private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ConfigError(f"private key {path} cannot be read: {exc}") from exc
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"private key {path} does not load: {exc}") from exc
    algorithm = _algorithm_of(private_key)
    if algorithm != entry["algorithm"] or key_id_of_private(private_key) != entry["kid"]:
        raise ConfigError(f"private key {path} does not match key {entry['kid']} "
                          f"({entry['algorithm']}) in {STATE_FILE}")
    return SigningKey(entry["kid"], algorithm, private_key)


def key_id_of_private(private_key: Any) -> str:
    return key_id(private_key.public_key())


def list_keys(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """Every key of ``folder``: kid, algorithm, status, created, retired (no key material)."""
    return [{k: entry.get(k) for k in ("kid", "algorithm", "status", "created", "retired")}
            for entry in _read_state(Path(folder))["keys"]]


def public_keyset(folder: str | os.PathLike) -> dict[str, Any]:
    """The JSON-serialisable export of ``folder``'s public keys for offline verifiers.

    ``{"format": "hawiya-keyset", "version": 1, "exported": ..., "keys": [{"kid",
    "algorithm", "status", "created", "retired", "public_key" (PEM)}]}``.
    """
    state = _read_state(Path(folder))
    return {"format": EXPORT_FORMAT, "version": FORMAT_VERSION, "exported": _now(),
            "keys": [{k: entry.get(k) for k in
                      ("kid", "algorithm", "status", "created", "retired", "public_key")}
                     for entry in state["keys"]]}
