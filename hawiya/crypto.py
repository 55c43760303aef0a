"""Encryption at rest for template bytes and raw images (AES-256-GCM).

The key is created by ``hawiya init`` in the data dir (mode 0600) or given as base64 in
``HAWIYA_TEMPLATE_KEY``. Associated data binds each ciphertext to its owner and purpose, so a
template copied onto another person's row fails to decrypt instead of matching.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hawiya.errors import ConfigError, HawiyaError

KEY_VERSION = 1


class DecryptionError(HawiyaError):
    code = "decryption_failed"
    http_status = 500


def create_key(path: Path) -> bool:
    """Create a new random key file unless one exists; returns True if created."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64encode(AESGCM.generate_key(bit_length=256)) + b"\n")
    return True


def load_key(path: Path, configured: str | None = None) -> bytes:
    """The template key: ``configured`` (settings ``template_key``) or the key file."""
    raw = configured.encode() if configured else None
    if raw is None:
        if not path.exists():
            raise ConfigError(f"no template key at {path}; run `hawiya init` first")
        raw = path.read_bytes()
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except ValueError as exc:
        raise ConfigError("template key is not valid base64") from exc
    if len(key) != 32:
        raise ConfigError("template key must be 32 bytes (AES-256)")
    return key


class Cipher:
    def __init__(self, key: bytes):
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(12)
        return bytes([KEY_VERSION]) + nonce + self._aead.encrypt(nonce, plaintext,
                                                                 context.encode())

    def decrypt(self, blob: bytes, context: str) -> bytes:
        if len(blob) < 29 or blob[0] != KEY_VERSION:
            raise DecryptionError("ciphertext malformed or of an unknown key version")
        try:
            return self._aead.decrypt(blob[1:13], blob[13:], context.encode())
        except InvalidTag as exc:
            raise DecryptionError("ciphertext failed authentication (tampered or wrong key)") \
                from exc
