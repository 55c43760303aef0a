"""Issuer keys in an HSM over PKCS#11 (SoftHSM2 token made per test module): creation,
signing through the normal credential path, verification with the exported key set,
rotation and retirement, and that the private key never leaves the token.

Skips cleanly when the ``softhsm2`` package or the ``python-pkcs11`` binding is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import threading
from datetime import date

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from hawiya.credentials import hsm, keys, signed
from hawiya.errors import ConfigError, InvalidInput

TODAY = date(2026, 6, 1)
TOKEN, PIN, SO_PIN = "hawiya-test", "1234", "5678"
PIN_ENV = "HAWIYA_TEST_HSM_PIN"
MODULE_CANDIDATES = (
    os.environ.get("SOFTHSM2_MODULE", ""),
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)
HOLDER = {
    "document_number": "HW1234567", "document_type": "ID", "surname": "Haddad",
    "given_names": "Amina Sara", "date_of_birth": "1990-02-03", "sex": "F",
    "nationality": "HWY", "issuing_authority": "Ministry of Interior",
    "issue_date": "2024-01-01", "expiry_date": "2034-01-01", "face_digest": b"\x01" * 32,
}


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def softhsm(tmp_path_factory):
    """A fresh SoftHSM2 token (label hawiya-test, PIN 1234) in a temporary directory."""
    pytest.importorskip("pkcs11", reason="python-pkcs11 is not installed")
    util = shutil.which("softhsm2-util")
    module = next((m for m in MODULE_CANDIDATES if m and os.path.exists(m)), None)
    if util is None or module is None:
        pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2)")
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\n"
                    "objectstore.backend = file\nlog.level = ERROR\n")
    saved = {k: os.environ.get(k) for k in ("SOFTHSM2_CONF", PIN_ENV)}
    os.environ["SOFTHSM2_CONF"] = str(conf)
    os.environ[PIN_ENV] = PIN
    hsm.close_all()  # SoftHSM reads SOFTHSM2_CONF when the library is initialised
    try:
        subprocess.run([util, "--init-token", "--free", "--label", TOKEN, "--pin", PIN,
                        "--so-pin", SO_PIN], check=True, capture_output=True, timeout=60)
        yield module
    finally:
        hsm.close_all()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def hsm_folder(softhsm, tmp_path):
    folder = tmp_path / "keys" / "issuer"
    hsm.write_config(folder, module=softhsm, token_label=TOKEN, pin_env=PIN_ENV)
    return folder


# --------------------------------------------------------------------------- the HSM path

@pytest.mark.parametrize("algorithm", ["Ed25519", "ES256"])
def test_issue_and_verify_with_an_hsm_key(hsm_folder, algorithm):
    kid = keys.create_key(hsm_folder, algorithm)
    # no private material on disk: no PEM file, only public data and the token reference
    assert list(hsm_folder.glob("*.pem")) == []
    state = json.loads((hsm_folder / keys.STATE_FILE).read_text())
    (entry,) = state["keys"]
    assert entry["kid"] == kid and entry["backend"] == "pkcs11" and entry["token"] == TOKEN
    assert entry["label"].startswith("hawiya-issuer-") and "file" not in entry
    assert "PRIVATE" not in (hsm_folder / keys.STATE_FILE).read_text()
    assert keys.list_keys(hsm_folder)[0]["status"] == "active"

    key = keys.active_key(hsm_folder)
    assert isinstance(key, keys.SigningKey) and isinstance(key.private_key, hsm.Pkcs11PrivateKey)
    assert (key.kid, key.algorithm) == (kid, algorithm)
    cose = signed.issue(HOLDER, hsm_folder, today=TODAY)  # the normal issuing path
    export = json.loads(json.dumps(keys.public_keyset(hsm_folder)))  # what verifiers get
    result = signed.verify(cose, keys.KeySet.from_export(export), today=TODAY)
    assert result.valid, result.reason
    assert result.payload["document_number"] == "HW1234567"
    qr = signed.encode_qr_text(cose)
    assert signed.verify(qr, export, today=TODAY).valid

    sig = key.sign(b"data")
    assert len(sig) == 64  # COSE form: Ed25519, or ES256 raw r || s (not DER)
    assert key.public_entry().verify(sig, b"data")
    assert not key.public_entry().verify(sig, b"other data")


def test_private_key_is_not_extractable(hsm_folder):
    import pkcs11

    kid = keys.create_key(hsm_folder, "ES256")
    private = keys.active_key(hsm_folder).private_key
    assert private.protection() == {"sensitive": True, "extractable": False,
                                    "always_sensitive": True, "never_extractable": True}
    with pytest.raises(ConfigError, match="not extractable"):
        private.private_bytes()
    # ask the token directly for the secret value: it refuses
    ref = next(k for k in json.loads((hsm_folder / keys.STATE_FILE).read_text())["keys"]
               if k["kid"] == kid)
    hsm.close_all()  # log out, then log in again here with the PIN: still refused
    token = pkcs11.lib(hsm.read_config(hsm_folder).module).get_token(token_label=TOKEN)
    with token.open(user_pin=PIN) as session:
        (obj,) = session.get_objects({pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PRIVATE_KEY,
                                      pkcs11.Attribute.LABEL: ref["label"]})
        with pytest.raises(pkcs11.AttributeSensitive):
            obj[pkcs11.Attribute.VALUE]
        key = keys.active_key(hsm_folder)  # the token is logged in already: still works
        assert key.public_entry().verify(key.sign(b"x"), b"x")
    # that outside session logged the token out on closing: ours reconnects once
    assert key.public_entry().verify(key.sign(b"y"), b"y")
    listed = {k["label"]: k for k in hsm.list_token_keys(hsm.read_config(hsm_folder))}
    assert listed[ref["label"]]["extractable"] is False
    assert listed[ref["label"]]["algorithm"] == "ES256"


def test_es256_signature_is_raw_r_s_of_sha256(hsm_folder):
    keys.create_key(hsm_folder, "ES256")
    key = keys.active_key(hsm_folder)
    der = key.private_key.sign(b"message", ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)  # the cryptography-style interface answers DER
    key.private_key.public_key().verify(der, b"message", ec.ECDSA(hashes.SHA256()))
    raw = key.sign(b"message")
    assert 0 < r and 0 < s and len(raw) == 64
    with pytest.raises(InvalidInput):
        key.private_key.sign(b"message")  # no hash named: refused, never a raw sign


def test_rotate_and_retire_keep_the_pem_bookkeeping(hsm_folder):
    first = keys.create_key(hsm_folder, "Ed25519")
    cose = signed.issue(HOLDER, hsm_folder, today=TODAY)
    second = keys.rotate(hsm_folder)
    statuses = {k["kid"]: k["status"] for k in keys.list_keys(hsm_folder)}
    assert statuses == {first: "valid", second: "active"}
    assert keys.active_key(hsm_folder).kid == second
    assert signed.verify(cose, keys.KeySet.from_folder(hsm_folder), today=TODAY).valid
    keys.retire(hsm_folder, first)
    v = signed.verify(cose, keys.KeySet.from_folder(hsm_folder), today=TODAY)
    assert not v.valid and v.check("key_not_retired").status == "fail"
    assert v.check("signature").passed
    with pytest.raises(ConfigError, match="retired"):
        keys.load_signing_key(hsm_folder, first)
    with pytest.raises(InvalidInput):
        keys.activate(hsm_folder, first)


def test_pem_folder_moves_to_the_hsm_by_rotation(softhsm, tmp_path):
    folder = tmp_path / "issuer"
    old = keys.create_key(folder, "Ed25519")  # embedded default: PEM
    assert (folder / f"{old}.pem").exists()
    old_cose = signed.issue(HOLDER, folder, today=TODAY)
    hsm.write_config(folder, module=softhsm, token_label=TOKEN, pin_env=PIN_ENV)
    new = keys.rotate(folder)
    assert not (folder / f"{new}.pem").exists()
    assert isinstance(keys.active_key(folder).private_key, hsm.Pkcs11PrivateKey)
    assert not isinstance(keys.load_signing_key(folder, old).private_key,
                          hsm.Pkcs11PrivateKey)
    keyset = keys.KeySet.from_folder(folder)
    assert signed.verify(old_cose, keyset, today=TODAY).valid
    assert signed.verify(signed.issue(HOLDER, folder, today=TODAY), keyset,
                         today=TODAY).valid


def test_pin_file_and_wrong_pin(softhsm, tmp_path):
    folder = tmp_path / "authority"
    pin = tmp_path / "hsm.pin"
    pin.write_text(PIN + "\n")
    pin.chmod(0o644)
    hsm.write_config(folder, module=softhsm, token_label=TOKEN, pin_file=str(pin))
    hsm.close_all()  # the PIN is read when the session opens
    with pytest.raises(ConfigError, match="readable by other users"):
        keys.create_key(folder, "Ed25519")
    pin.chmod(stat.S_IRUSR | stat.S_IWUSR)
    kid = keys.create_key(folder, "Ed25519")
    assert keys.active_key(folder).kid == kid
    hsm.close_all()
    pin.write_text("0000\n")
    with pytest.raises(ConfigError, match="PIN is incorrect"):
        keys.active_key(folder).sign(b"x")
    pin.write_text(PIN + "\n")
    hsm.close_all()


def test_concurrent_signing_shares_one_session(hsm_folder):
    keys.create_key(hsm_folder, "ES256")
    key = keys.active_key(hsm_folder)
    entry, errors = key.public_entry(), []

    def work(n):
        try:
            for i in range(10):
                data = f"{n}-{i}".encode()
                assert entry.verify(key.sign(data), data)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_platform_signs_with_hsm_keys(softhsm, sqlite_platform):
    p = sqlite_platform
    for folder in (p.authority_keys, p.issuer_keys):  # init made PEM keys; move both
        hsm.write_config(folder, module=softhsm, token_label=TOKEN, pin_env=PIN_ENV)
        keys.rotate(folder)
    kid, signature = p.sign_digest(b"frozen roll digest")
    assert kid == keys.active_key(p.authority_keys).kid
    assert isinstance(keys.active_key(p.authority_keys).private_key, hsm.Pkcs11PrivateKey)
    assert p.verify_digest(kid, b"frozen roll digest", signature)
    assert not p.verify_digest(kid, b"another digest", signature)
    cose = signed.issue(HOLDER, p.issuer_keys, today=TODAY)
    assert signed.verify(cose, keys.public_keyset(p.issuer_keys), today=TODAY).valid


def test_issue_card_with_an_hsm_issuer_key(softhsm, sqlite_platform):
    from hawiya.credentials import documents
    from hawiya.identity.persons import Demographics
    from tests import calls as service
    from tests.conftest import yale

    p = sqlite_platform
    face = yale(1, "normal")  # skips without the shared face data
    hsm.write_config(p.issuer_keys, module=softhsm, token_label=TOKEN, pin_env=PIN_ENV)
    kid = keys.rotate(p.issuer_keys, "ES256")
    demo = Demographics.parse("Amal Haddad", date_of_birth="1990-04-12", sex="F",
                              district="D1")
    person = service.enroll(p, faces=[face], demographics=demo, actor="officer")["person_id"]
    card = documents.issue_card(p, person, actor="issuer")
    assert card["key_id"] == kid
    v = signed.verify(card["qr_text"], keys.public_keyset(p.issuer_keys))
    assert v.valid, v.reason


# --------------------------------------------------------------------------- configuration

def test_config_is_checked(tmp_path, monkeypatch):
    assert hsm.read_config(tmp_path) is None  # no hsm.json: PEM files
    path = tmp_path / hsm.CONFIG_FILE
    path.write_text(json.dumps({"backend": "pem"}))
    assert hsm.read_config(tmp_path) is None
    good = {"module": "/usr/lib/softhsm/libsofthsm2.so", "token_label": "t",
            "pin_env": "X"}
    for bad, match in [
        ({**good, "backend": "vault"}, "backend"),
        ({**good, "module": "libsofthsm2.so"}, "absolute"),
        ({**good, "pin_file": "/p"}, "exactly one"),
        ({k: v for k, v in good.items() if k != "pin_env"}, "exactly one"),
        ({**good, "pin": "1234"}, "unknown setting"),
        ({**good, "token_label": ""}, "token_label"),
    ]:
        path.write_text(json.dumps(bad))
        with pytest.raises(ConfigError, match=match):
            hsm.read_config(tmp_path)
    path.write_text("{not json")
    with pytest.raises(ConfigError):
        hsm.read_config(tmp_path)
    with pytest.raises(ConfigError):
        hsm.write_config(tmp_path / "x", module="/m.so", token_label="t")  # no PIN source
    assert not (tmp_path / "x" / hsm.CONFIG_FILE).exists()
    config = hsm.write_config(tmp_path / "y", module="/m.so", token_label="t", pin_env="V")
    assert config.label_prefix == "hawiya-y"
    monkeypatch.delenv("V", raising=False)
    with pytest.raises(ConfigError, match="not set"):
        config.pin()
    monkeypatch.setenv("V", "4321")
    assert config.pin() == "4321"


def test_hsm_entry_without_hsm_json_is_a_clear_error(tmp_path):
    folder = tmp_path / "issuer"
    keys.create_key(folder)
    state = json.loads((folder / keys.STATE_FILE).read_text())
    entry = state["keys"][0]
    del entry["file"]
    entry.update(backend="pkcs11", token="t", label="l", object_id="00")
    (folder / keys.STATE_FILE).write_text(json.dumps(state))
    with pytest.raises(ConfigError, match="no hsm.json"):
        keys.active_key(folder)
    entry["file"] = f"{entry['kid']}.pem"  # both a file and a token: malformed
    (folder / keys.STATE_FILE).write_text(json.dumps(state))
    with pytest.raises(ConfigError, match="malformed"):
        keys.list_keys(folder)


def test_es256_der_conversion():
    raw = (5).to_bytes(32, "big") + (7).to_bytes(32, "big")
    assert decode_dss_signature(hsm._es256_der(raw)) == (5, 7)
    der = hsm._es256_der(raw)
    assert hsm._es256_der(der) == der  # a token that already answers DER
    with pytest.raises(ConfigError):
        hsm._es256_der(b"\x01\x02\x03")
