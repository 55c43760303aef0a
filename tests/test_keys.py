"""Issuer key management: files and permissions, rotation, retirement, export round trip."""

from __future__ import annotations

import json
import os
import stat
import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from hawiya.credentials import keys
from hawiya.errors import ConfigError, InvalidInput, NotFound


@pytest.mark.parametrize("algorithm", ["Ed25519", "ES256"])
def test_create_key_writes_private_pem_0600_and_state(tmp_path, algorithm):
    folder = tmp_path / "keys" / "issuer"
    kid = keys.create_key(folder, algorithm)
    assert len(kid) == 16 and int(kid, 16) >= 0
    pem = folder / f"{kid}.pem"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    private = serialization.load_pem_private_key(pem.read_bytes(), password=None)
    expected = ed25519.Ed25519PrivateKey if algorithm == "Ed25519" else \
        ec.EllipticCurvePrivateKey
    assert isinstance(private, expected)
    assert keys.key_id(private.public_key()) == kid
    state = json.loads((folder / keys.STATE_FILE).read_text())
    assert [k["kid"] for k in state["keys"]] == [kid]
    assert "PRIVATE" not in (folder / keys.STATE_FILE).read_text()
    active = keys.active_key(folder)
    assert (active.kid, active.algorithm) == (kid, algorithm)
    assert list(folder.glob("*.tmp")) == []


def test_key_id_is_truncated_sha256_of_spki(tmp_path):
    import hashlib

    kid = keys.create_key(tmp_path, "ES256")
    pub = keys.active_key(tmp_path).private_key.public_key()
    spki = pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)
    assert kid == hashlib.sha256(spki).digest()[:8].hex()


def test_second_key_is_published_not_active_until_activated(tmp_path):
    first = keys.create_key(tmp_path)
    second = keys.create_key(tmp_path, "ES256")
    assert keys.active_key(tmp_path).kid == first
    statuses = {k["kid"]: k["status"] for k in keys.list_keys(tmp_path)}
    assert statuses == {first: "active", second: "valid"}
    keys.activate(tmp_path, second)
    assert keys.active_key(tmp_path).kid == second
    statuses = {k["kid"]: k["status"] for k in keys.list_keys(tmp_path)}
    assert statuses == {first: "valid", second: "active"}


def test_rotate_then_retire(tmp_path):
    old = keys.create_key(tmp_path, "ES256")
    new = keys.rotate(tmp_path)
    assert new != old
    assert keys.active_key(tmp_path).kid == new
    assert keys.active_key(tmp_path).algorithm == "ES256"  # rotation keeps the algorithm
    by_kid = {k["kid"]: k for k in keys.list_keys(tmp_path)}
    assert by_kid[old]["status"] == "valid" and by_kid[new]["status"] == "active"
    keys.retire(tmp_path, old)
    keys.retire(tmp_path, old)  # idempotent
    by_kid = {k["kid"]: k for k in keys.list_keys(tmp_path)}
    assert by_kid[old]["status"] == "retired" and by_kid[old]["retired"]
    with pytest.raises(ConfigError, match="retired"):
        keys.load_signing_key(tmp_path, old)
    with pytest.raises(InvalidInput):
        keys.activate(tmp_path, old)
    # retiring the active key (compromise) leaves nothing to sign with until a rotation
    keys.retire(tmp_path, new)
    with pytest.raises(ConfigError, match="no active issuer key"):
        keys.active_key(tmp_path)
    newest = keys.rotate(tmp_path, "Ed25519")
    assert keys.active_key(tmp_path).kid == newest


def test_errors(tmp_path):
    with pytest.raises(InvalidInput):
        keys.create_key(tmp_path, "RSA")
    with pytest.raises(ConfigError):
        keys.active_key(tmp_path)
    keys.create_key(tmp_path)
    with pytest.raises(NotFound):
        keys.retire(tmp_path, "0123456789abcdef")
    state = json.loads((tmp_path / keys.STATE_FILE).read_text())
    state["keys"][0]["file"] = "../../etc/passwd"
    (tmp_path / keys.STATE_FILE).write_text(json.dumps(state))
    with pytest.raises(ConfigError, match="malformed"):
        keys.active_key(tmp_path)
    (tmp_path / keys.STATE_FILE).write_text("{not json")
    with pytest.raises(ConfigError):
        keys.active_key(tmp_path)


def test_private_key_readable_by_others_is_refused(tmp_path):
    kid = keys.create_key(tmp_path)
    os.chmod(tmp_path / f"{kid}.pem", 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        keys.active_key(tmp_path)


def test_swapped_private_key_file_is_refused(tmp_path):
    a = keys.create_key(tmp_path)
    b = keys.create_key(tmp_path)
    pa, pb = tmp_path / f"{a}.pem", tmp_path / f"{b}.pem"
    data_a = pa.read_bytes()
    pa.write_bytes(pb.read_bytes())
    with pytest.raises(ConfigError, match="does not match"):
        keys.active_key(tmp_path)
    pa.write_bytes(data_a)
    assert keys.active_key(tmp_path).kid == a


def test_public_keyset_export_round_trip(tmp_path):
    a = keys.create_key(tmp_path, "Ed25519")
    b = keys.rotate(tmp_path, "ES256")
    c = keys.rotate(tmp_path, "Ed25519")
    keys.retire(tmp_path, a)
    export = json.loads(json.dumps(keys.public_keyset(tmp_path)))  # JSON-serialisable
    assert "PRIVATE" not in json.dumps(export)
    keyset = keys.KeySet.from_export(export)
    assert len(keyset) == 3
    assert {e.kid: e.status for e in keyset} == {a: "retired", b: "valid", c: "active"}
    assert keyset.get(b).algorithm == "ES256"
    assert keyset.get(bytes.fromhex(c)).kid == c
    assert keyset.get("ffffffffffffffff") is None and a in keyset
    # the export of the KeySet reads back the same
    again = keys.KeySet.from_export(json.dumps(keyset.export()))
    assert [(e.kid, e.algorithm, e.status) for e in again] == \
        [(e.kid, e.algorithm, e.status) for e in keyset]
    # signatures made with the private keys verify with the exported public keys
    signer = keys.active_key(tmp_path)
    assert keyset.get(signer.kid).verify(signer.sign(b"data"), b"data")
    assert not keyset.get(signer.kid).verify(signer.sign(b"data"), b"other")


@pytest.mark.parametrize("mutate, message", [
    (lambda k: k.update(kid="00" * 8), "not the hash"),
    (lambda k: k.update(algorithm="ES256"), "not an ES256 key"),
    (lambda k: k.update(algorithm="RS256"), "unknown algorithm"),
    (lambda k: k.update(status="trusted"), "unknown status"),
    (lambda k: k.update(public_key="-----BEGIN PUBLIC KEY-----\nAAAA\n"), "does not load"),
    (lambda k: k.update(kid=None), "kid"),
])
def test_tampered_export_is_refused(tmp_path, mutate, message):
    keys.create_key(tmp_path, "Ed25519")
    export = keys.public_keyset(tmp_path)
    mutate(export["keys"][0])
    with pytest.raises(InvalidInput, match=message):
        keys.KeySet.from_export(export)


@pytest.mark.parametrize("bad", [None, [], "not json", {"format": "x"},
                                 {"format": "hawiya-keyset", "version": 2, "keys": []},
                                 {"format": "hawiya-keyset", "version": 1, "keys": {}},
                                 {"format": "hawiya-keyset", "version": 1, "keys": [1]}])
def test_garbage_export_is_refused(bad):
    with pytest.raises(InvalidInput):
        keys.KeySet.from_export(bad)


def test_es256_signature_is_raw_r_s(tmp_path):
    keys.create_key(tmp_path, "ES256")
    signer = keys.active_key(tmp_path)
    sig = signer.sign(b"message")
    assert len(sig) == 64
    entry = signer.public_entry()
    assert entry.verify(sig, b"message")
    assert not entry.verify(sig[:63], b"message")
    assert not entry.verify(b"\x00" * 64, b"message")


def test_concurrent_rotations_lose_no_key(tmp_path):
    keys.create_key(tmp_path)
    made: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            made.append(keys.rotate(tmp_path))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    listed = keys.list_keys(tmp_path)
    assert len(listed) == 7
    assert set(made) <= {k["kid"] for k in listed}
    assert sum(k["status"] == "active" for k in listed) == 1
