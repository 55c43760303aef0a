"""Signing keys inside a hardware security module, over PKCS#11 (``python-pkcs11``).

A key folder (``DATA_DIR/keys/issuer/``, ``.../authority/``) keeps its private keys in an
HSM token instead of PEM files when it holds a small ``hsm.json``::

    {
      "backend": "pkcs11",
      "module": "/usr/lib/softhsm/libsofthsm2.so",
      "token_label": "hawiya-issuer",
      "pin_env": "HAWIYA_ISSUER_HSM_PIN",
      "label_prefix": "hawiya-issuer"
    }

* ``module`` -- absolute path of the vendor's PKCS#11 library;
* ``token_label`` -- the token (slot) holding this folder's keys;
* ``pin_env`` *or* ``pin_file`` -- where the user PIN comes from: the name of an
  environment variable, or a file (absolute, or relative to the key folder; mode 0600,
  one line). The PIN itself never goes into ``hsm.json``;
* ``label_prefix`` (optional, default ``hawiya-<folder name>``) -- CKA_LABEL prefix of the
  keys created here.

Without ``hsm.json`` (or with ``"backend": "pem"``) the folder keeps the embedded default,
PEM files (:mod:`hawiya.credentials.keys`). Bookkeeping stays in ``keyset.json`` either way:
an HSM key's entry carries ``"backend": "pkcs11"``, the token label, the object's CKA_LABEL
and CKA_ID, and its public key -- never private material. Rotation, activation and
retirement are the same state changes as for PEM keys; a retired key's object stays on the
token (destroying it is an operator's decision, made with the vendor's tools).

Keys are generated on the token with CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE = true and
CKA_EXTRACTABLE = false, so the private key can never leave it: signing sends the data (the
SHA-256 digest, for ES256) to the token. Ed25519 needs CKM_EC_EDWARDS_KEY_PAIR_GEN and
CKM_EDDSA (SoftHSM2 2.6 and later have them); ES256 needs CKM_EC_KEY_PAIR_GEN and CKM_ECDSA
on P-256.

:class:`Pkcs11PrivateKey` stands in for a ``cryptography`` private key inside
:class:`hawiya.credentials.keys.SigningKey`: ``public_key()`` and ``sign(data)`` (Ed25519,
64 bytes) or ``sign(data, ec.ECDSA(hashes.SHA256()))`` (ES256, DER). CKM_ECDSA returns the
raw ``r || s`` pair; it is DER-encoded here and SigningKey turns it back into the raw 64 bytes
that COSE carries, exactly as for a PEM key.

One logged-in session per (library, token) is kept for the process and used under a lock
(PKCS#11 login state is per token, and a session is not for concurrent threads); a session
that the token dropped is reopened once, and a forked child re-initialises the library.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from hawiya.errors import ConfigError, InvalidInput

CONFIG_FILE = "hsm.json"
BACKEND = "pkcs11"
_CONFIG_FIELDS = {"backend", "module", "token_label", "pin_env", "pin_file", "label_prefix"}
_P256_PARAMS = bytes.fromhex("06082a8648ce3d030107")  # OID 1.2.840.10045.3.1.7
_ED25519_OIDS = ("1.3.101.112",)
_HALF = 32


# --------------------------------------------------------------------------- configuration

@dataclass(frozen=True)
class HsmConfig:
    """A key folder's PKCS#11 settings (from its ``hsm.json``)."""

    folder: Path
    module: str
    token_label: str
    pin_env: str | None = None
    pin_file: str | None = None
    label_prefix: str = ""

    def pin(self) -> str:
        """The user PIN, read now from the environment variable or the PIN file."""
        if self.pin_env:
            value = os.environ.get(self.pin_env)
            if not value:
                raise ConfigError(f"HSM PIN variable {self.pin_env} is not set "
                                  f"({self.folder / CONFIG_FILE})")
            return value
        path = Path(self.pin_file or "")
        if not path.is_absolute():
            path = self.folder / path
        try:
            if os.name == "posix" and path.stat().st_mode & 0o077:
                raise ConfigError(f"HSM PIN file {path} is readable by other users; "
                                  "chmod 600 it")
            value = path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"HSM PIN file {path} cannot be read: {exc}") from exc
        if not value:
            raise ConfigError(f"HSM PIN file {path} is empty")
        return value


def read_config(folder: str | os.PathLike) -> HsmConfig | None:
    """The folder's HSM settings; None when it has no ``hsm.json`` or asks for PEM files."""
    folder = Path(folder)
    path = folder / CONFIG_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is unreadable: {exc}") from exc
    return _parse_config(data, folder, path)


def _parse_config(data: Any, folder: Path, path: Path) -> HsmConfig | None:
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    unknown = set(data) - _CONFIG_FIELDS
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
    backend = data.get("backend", BACKEND)
    if backend == "pem":
        return None
    if backend != BACKEND:
        raise ConfigError(f"{path}: backend must be 'pkcs11' or 'pem', not {backend!r}")
    module, token = data.get("module"), data.get("token_label")
    if not isinstance(module, str) or not os.path.isabs(module):
        raise ConfigError(f"{path}: 'module' must be the absolute path of the PKCS#11 library")
    if not isinstance(token, str) or not token or len(token) > 32:
        raise ConfigError(f"{path}: 'token_label' must be a token label (1-32 characters)")
    pin_env, pin_file = data.get("pin_env"), data.get("pin_file")
    if (pin_env is None) == (pin_file is None) or \
            not all(v is None or (isinstance(v, str) and v) for v in (pin_env, pin_file)):
        raise ConfigError(f"{path}: give exactly one of 'pin_env' (variable name) or "
                          "'pin_file' (path); never the PIN itself")
    prefix = data.get("label_prefix") or f"hawiya-{folder.name}"
    if not isinstance(prefix, str) or len(prefix) > 40:
        raise ConfigError(f"{path}: 'label_prefix' must be text of at most 40 characters")
    return HsmConfig(folder, module, token, pin_env, pin_file, prefix)


def write_config(folder: str | os.PathLike, *, module: str, token_label: str,
                 pin_env: str | None = None, pin_file: str | None = None,
                 label_prefix: str | None = None) -> HsmConfig:
    """Write (replace) a folder's ``hsm.json`` after checking it; returns the settings."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = {"backend": BACKEND, "module": module, "token_label": token_label,
            "pin_env": pin_env, "pin_file": pin_file, "label_prefix": label_prefix}
    data = {k: v for k, v in data.items() if v is not None}
    config = _parse_config(data, folder, folder / CONFIG_FILE)  # check before writing
    assert config is not None
    fd, tmp = tempfile.mkstemp(prefix=".hsm-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, folder / CONFIG_FILE)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return config


# --------------------------------------------------------------------------- sessions

def _pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ConfigError("this key folder is configured for an HSM (hsm.json) but the "
                          "PKCS#11 binding is missing: pip install 'python-pkcs11>=0.10,<1'"
                          ) from exc
    return pkcs11


class _TokenSession:
    """One logged-in read/write session on a token, shared by the process under a lock."""

    def __init__(self, config: HsmConfig):
        self.module, self.token_label = config.module, config.token_label
        self.lock = threading.RLock()
        self.session: Any = None
        self.pid = os.getpid()

    def _open(self, config: HsmConfig) -> Any:
        p11 = _pkcs11()
        if not os.path.exists(self.module):
            raise ConfigError(f"PKCS#11 library {self.module} does not exist "
                              f"({config.folder / CONFIG_FILE})")
        try:
            lib = p11.lib(self.module)
            if self.pid != os.getpid():  # a forked child must initialise the library again
                with contextlib.suppress(p11.PKCS11Error):
                    lib.finalize()
                lib.initialize()
                self.pid = os.getpid()
            token = lib.get_token(token_label=self.token_label)
            pin = config.pin()
            try:
                return token.open(rw=True, user_pin=pin)
            except p11.UserAlreadyLoggedIn:  # login is per token: another session did it
                return token.open(rw=True)
        except (p11.NoSuchToken, p11.MultipleTokensReturned) as exc:
            raise ConfigError(f"HSM token {self.token_label!r} not found exactly once in "
                              f"{self.module}") from exc
        except p11.PinIncorrect as exc:
            raise ConfigError(f"HSM token {self.token_label!r}: the PIN is incorrect") from exc
        except p11.PKCS11Error as exc:
            raise ConfigError(f"HSM token {self.token_label!r}: cannot open a session: "
                              f"{type(exc).__name__} {exc}") from exc

    def run(self, config: HsmConfig, fn: Callable[[Any], Any]) -> Any:
        """``fn(session)`` under the lock; a dropped session is reopened once."""
        p11 = _pkcs11()
        retry = (p11.SessionHandleInvalid, p11.SessionClosed, p11.DeviceRemoved,
                 p11.TokenNotPresent, p11.UserNotLoggedIn)
        with self.lock:
            for attempt in (1, 2):
                if self.session is None or self.pid != os.getpid():
                    self.session = self._open(config)
                try:
                    return fn(self.session)
                except _NotFound as exc:  # perhaps logged out under us: look again, once
                    self._drop()
                    if attempt == 2:
                        raise ConfigError(str(exc)) from None
                except retry:
                    self._drop()
                    if attempt == 2:
                        raise
                except p11.PKCS11Error as exc:
                    raise ConfigError(f"HSM token {self.token_label!r}: "
                                      f"{type(exc).__name__} {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _drop(self) -> None:
        session, self.session = self.session, None
        if session is not None and self.pid == os.getpid():
            with contextlib.suppress(Exception):
                session.close()


class _NotFound(Exception):
    """A key object is missing from the session's view (private objects vanish from it
    when the token is logged out, for example by another session closing)."""


_SESSIONS: dict[tuple[str, str], _TokenSession] = {}
_SESSIONS_LOCK = threading.Lock()


def _session_for(config: HsmConfig) -> _TokenSession:
    with _SESSIONS_LOCK:
        key = (config.module, config.token_label)
        if key not in _SESSIONS:
            _SESSIONS[key] = _TokenSession(config)
        return _SESSIONS[key]


def close_all() -> None:
    """Log out, close every session and finalise the libraries (tests, shutdown)."""
    with _SESSIONS_LOCK:
        sessions, modules = list(_SESSIONS.values()), {s.module for s in _SESSIONS.values()}
        _SESSIONS.clear()
    for s in sessions:
        with s.lock:
            s._drop()
    try:
        import pkcs11
    except ImportError:  # pragma: no cover
        return
    for module in modules:
        with contextlib.suppress(Exception):
            pkcs11.unload(module)


# --------------------------------------------------------------------------- keys

def _raw_point(value: bytes, size: int, first: int | None) -> bytes:
    """CKA_EC_POINT is a DER OCTET STRING around the point; some tokens give it bare."""
    if len(value) == size and (first is None or value[0] == first):
        return value
    if len(value) == size + 2 and value[0] == 0x04 and value[1] == size:
        return value[2:]
    raise ConfigError("HSM public key point has an unexpected encoding")


def _public_of(pub_obj: Any, algorithm: str) -> Any:
    p11 = _pkcs11()
    point = bytes(pub_obj[p11.Attribute.EC_POINT])
    if algorithm == "Ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(_raw_point(point, 32, None))
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                        _raw_point(point, 65, 0x04))


def _algorithm_of(obj: Any) -> str | None:
    p11 = _pkcs11()
    key_type = obj[p11.Attribute.KEY_TYPE]
    if key_type == p11.KeyType.EC_EDWARDS:
        return "Ed25519"
    if key_type == p11.KeyType.EC and bytes(obj[p11.Attribute.EC_PARAMS]) == _P256_PARAMS:
        return "ES256"
    return None


def _require_mechanisms(session: Any, algorithm: str, token_label: str) -> None:
    p11 = _pkcs11()
    M = p11.Mechanism
    need = (M.EC_EDWARDS_KEY_PAIR_GEN, M.EDDSA) if algorithm == "Ed25519" else \
        (M.EC_KEY_PAIR_GEN, M.ECDSA)
    have = set(session.token.slot.get_mechanisms())
    missing = [m.name for m in need if m not in have]
    if missing:
        raise ConfigError(f"HSM token {token_label!r} does not support {algorithm} "
                          f"(missing CKM_{', CKM_'.join(missing)})")


def generate_key(config: HsmConfig, algorithm: str) -> tuple[Any, dict[str, str]]:
    """Generate a non-extractable key pair on the token.

    Returns the public key (a ``cryptography`` object) and the reference to keep in
    ``keyset.json``: ``{"backend", "token", "label", "object_id"}``.
    """
    if algorithm not in ("Ed25519", "ES256"):
        raise InvalidInput(f"unknown signing algorithm {algorithm!r}: Ed25519 or ES256")
    p11 = _pkcs11()
    from pkcs11.util.ec import encode_named_curve_parameters

    A = p11.Attribute
    object_id = secrets.token_bytes(16)
    label = f"{config.label_prefix}-{object_id[:6].hex()}"

    def gen(session: Any) -> Any:
        _require_mechanisms(session, algorithm, config.token_label)
        if algorithm == "Ed25519":
            key_type, params = p11.KeyType.EC_EDWARDS, \
                encode_named_curve_parameters(_ED25519_OIDS[0])
        else:
            key_type, params = p11.KeyType.EC, _P256_PARAMS
        domain = session.create_domain_parameters(key_type, {A.EC_PARAMS: params},
                                                  local=True)
        pub, _priv = domain.generate_keypair(
            store=True, label=label, id=object_id,
            public_template={A.TOKEN: True, A.VERIFY: True, A.PRIVATE: False},
            private_template={A.TOKEN: True, A.PRIVATE: True, A.SENSITIVE: True,
                              A.EXTRACTABLE: False, A.SIGN: True})
        return _public_of(pub, algorithm)

    public_key = _session_for(config).run(config, gen)
    return public_key, {"backend": BACKEND, "token": config.token_label, "label": label,
                        "object_id": object_id.hex()}


def list_token_keys(config: HsmConfig) -> list[dict[str, Any]]:
    """The private key objects on the folder's token: label, object_id, algorithm and the
    protection flags (no key material)."""
    p11 = _pkcs11()
    A = p11.Attribute

    def scan(session: Any) -> list[dict[str, Any]]:
        out = []
        for obj in session.get_objects({A.CLASS: p11.ObjectClass.PRIVATE_KEY}):
            out.append({"label": obj[A.LABEL], "object_id": bytes(obj[A.ID]).hex(),
                        "algorithm": _algorithm_of(obj), **_flags(obj)})
        return out

    return _session_for(config).run(config, scan)


def _flags(obj: Any) -> dict[str, bool]:
    A = _pkcs11().Attribute
    return {"sensitive": bool(obj[A.SENSITIVE]), "extractable": bool(obj[A.EXTRACTABLE]),
            "always_sensitive": bool(obj[A.ALWAYS_SENSITIVE]),
            "never_extractable": bool(obj[A.NEVER_EXTRACTABLE])}


def _find(session: Any, object_class: Any, ref: dict[str, str]) -> Any:
    p11 = _pkcs11()
    A = p11.Attribute
    found = list(session.get_objects({A.CLASS: object_class, A.LABEL: ref["label"],
                                      A.ID: bytes.fromhex(ref["object_id"])}))
    if len(found) != 1:
        error = _NotFound if not found else ConfigError
        raise error(f"HSM token {ref['token']!r} holds {len(found)} objects labelled "
                    f"{ref['label']!r} with id {ref['object_id']} (1 expected)")
    return found[0]


def load_private_key(config: HsmConfig, ref: dict[str, str],
                     algorithm: str) -> Pkcs11PrivateKey:
    """The token's key named by ``ref`` (from keyset.json), checked against ``algorithm``."""
    if ref.get("token") != config.token_label:
        raise ConfigError(f"key {ref.get('label')!r} lives on token {ref.get('token')!r} but "
                          f"{config.folder / CONFIG_FILE} names {config.token_label!r}")
    p11 = _pkcs11()

    def load(session: Any) -> Any:
        priv = _find(session, p11.ObjectClass.PRIVATE_KEY, ref)
        pub = _find(session, p11.ObjectClass.PUBLIC_KEY, ref)
        if _algorithm_of(priv) != algorithm or _algorithm_of(pub) != algorithm:
            raise ConfigError(f"HSM key {ref['label']!r} is not an {algorithm} key")
        if not priv[p11.Attribute.SIGN]:
            raise ConfigError(f"HSM key {ref['label']!r} may not sign (CKA_SIGN false)")
        return _public_of(pub, algorithm)

    public_key = _session_for(config).run(config, load)
    return Pkcs11PrivateKey(config, dict(ref), algorithm, public_key)


class Pkcs11PrivateKey:
    """A private key that stays on the token; signs through it, like a ``cryptography``
    Ed25519 / EC private key (``public_key()``, ``sign``), and can never be exported."""

    def __init__(self, config: HsmConfig, ref: dict[str, str], algorithm: str,
                 public_key: Any):
        self._config, self.ref, self.algorithm = config, ref, algorithm
        self._public_key = public_key
        if algorithm == "ES256":
            self.curve = ec.SECP256R1()
            self.key_size = 256

    @property
    def label(self) -> str:
        return self.ref["label"]

    def public_key(self) -> Any:
        return self._public_key

    def sign(self, data: bytes, signature_algorithm: Any = None) -> bytes:
        """Ed25519: the 64-byte signature of ``data``. ES256 (pass
        ``ec.ECDSA(hashes.SHA256())``): the DER signature of SHA-256(``data``)."""
        p11 = _pkcs11()
        if self.algorithm == "Ed25519":
            if signature_algorithm is not None:
                raise InvalidInput("an Ed25519 key takes no signature algorithm")
            mechanism, message = p11.Mechanism.EDDSA, bytes(data)
        else:
            if not isinstance(signature_algorithm, ec.ECDSA) or \
                    not isinstance(signature_algorithm.algorithm, hashes.SHA256):
                raise InvalidInput("an ES256 key signs with ECDSA over SHA-256 only")
            mechanism, message = p11.Mechanism.ECDSA, hashlib.sha256(data).digest()

        def sign(session: Any) -> bytes:
            priv = _find(session, p11.ObjectClass.PRIVATE_KEY, self.ref)
            return bytes(priv.sign(message, mechanism=mechanism))

        signature = _session_for(self._config).run(self._config, sign)
        if self.algorithm == "Ed25519":
            if len(signature) != 64:
                raise ConfigError(f"HSM returned a {len(signature)}-byte Ed25519 signature")
            return signature
        return _es256_der(signature)

    def protection(self) -> dict[str, bool]:
        """CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE."""
        p11 = _pkcs11()
        return _session_for(self._config).run(
            self._config, lambda s: _flags(_find(s, p11.ObjectClass.PRIVATE_KEY, self.ref)))

    def private_bytes(self, *args: Any, **kwargs: Any) -> bytes:
        raise ConfigError(f"HSM key {self.label!r} is not extractable")

    def __repr__(self) -> str:
        return f"Pkcs11PrivateKey({self.algorithm}, token={self.ref.get('token')!r}, " \
               f"label={self.label!r})"


def _es256_der(signature: bytes) -> bytes:
    """CKM_ECDSA gives raw ``r || s`` (32 + 32 bytes); a few tokens answer DER already."""
    if len(signature) == 2 * _HALF:
        r = int.from_bytes(signature[:_HALF], "big")
        s = int.from_bytes(signature[_HALF:], "big")
        return encode_dss_signature(r, s)
    try:
        decode_dss_signature(signature)
    except ValueError as exc:
        raise ConfigError(f"HSM returned a malformed ES256 signature "
                          f"({len(signature)} bytes)") from exc
    return signature
