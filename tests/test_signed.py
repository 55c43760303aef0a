"""Signed credentials: COSE_Sign1 issue/verify, QR text codec, strict CBOR, fuzzing."""

from __future__ import annotations

import hashlib
import json
import zlib
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hawiya.credentials import keys, signed
from hawiya.credentials.cbor import CBORError, Tag, cbor_decode, cbor_encode
from hawiya.credentials.qr_text import b45decode, b45encode, decode_qr_text, encode_qr_text
from hawiya.credentials.signed import CHECKS, CREDENTIAL_AAD, issue, verify
from hawiya.errors import InvalidInput

TODAY = date(2026, 6, 1)
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def holder(**overrides):
    fields = {
        "document_number": "HW1234567", "document_type": "ID", "surname": "حداد",
        "given_names": "Amina Sara", "date_of_birth": date(1990, 2, 3), "sex": "F",
        "nationality": "HWY", "issuing_authority": "Ministry of Interior",
        "issue_date": "2024-01-01", "expiry_date": "2034-01-01",
        "face_digest": hashlib.sha256(b"face template bytes").digest(),
    }
    fields.update(overrides)
    return fields


@pytest.fixture(params=["Ed25519", "ES256"])
def issuer(tmp_path, request):
    folder = tmp_path / "issuer"
    keys.create_key(folder, request.param)
    return folder


@pytest.fixture(scope="module")
def fixed():
    """One Ed25519 key, a credential and its QR text, shared by the fuzz tests."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    private = ed25519.Ed25519PrivateKey.generate()
    signer = keys.SigningKey(keys.key_id(private.public_key()), "Ed25519", private)
    keyset = keys.KeySet([signer.public_entry()])
    cose = issue(holder(), signer)
    return signer, keyset, cose, encode_qr_text(cose)


def statuses(v):
    return {c.name: c.status for c in v.checks}


# --------------------------------------------------------------------------- round trips

def test_issue_verify_round_trip(issuer):
    keyset = keys.KeySet.from_folder(issuer)
    cose = issue(holder(), issuer)
    text = encode_qr_text(cose)
    assert text.startswith("HW1:") and len(text) < 600
    assert set(text[4:]) <= set(signed.B45_ALPHABET)  # QR alphanumeric mode
    for presented in (cose, text, text.encode(), f"  {text}\n"):
        v = verify(presented, keyset, today=TODAY)
        assert v.valid, v.to_dict()
        assert [c.name for c in v.checks] == list(CHECKS)
        assert all(c.status == "pass" and c.reason for c in v.checks)
        assert v.reason == "valid"
        assert v.kid == keys.active_key(issuer).kid
        assert v.algorithm == keys.active_key(issuer).algorithm
        assert v.payload["surname"] == "حداد"
        assert v.payload["date_of_birth"] == "1990-02-03"
        assert v.payload["face_digest"] == hashlib.sha256(b"face template bytes").digest()
        assert set(v.payload) == set(signed.PAYLOAD_KEYS) - {"version"}
    body = json.loads(json.dumps(verify(text, keyset, today=TODAY).to_dict()))
    assert body["valid"] and body["payload"]["face_digest"] == \
        hashlib.sha256(b"face template bytes").hexdigest()


def test_verify_accepts_the_json_export(issuer):
    export = json.loads(json.dumps(keys.public_keyset(issuer)))
    assert verify(issue(holder(), issuer), export, today=TODAY).valid


def test_wire_format_is_cose_sign1(issuer):
    cose = issue(holder(), issuer)
    item = cbor_decode(cose)
    assert isinstance(item, Tag) and item.tag == 18
    protected, unprotected, payload, sig = item.value
    headers = cbor_decode(protected)
    key = keys.active_key(issuer)
    assert headers == {1: -8 if key.algorithm == "Ed25519" else -7, 4: key.kid_bytes}
    assert unprotected == {}
    assert len(sig) == 64  # Ed25519, or ES256 as raw r || s
    assert cbor_decode(payload)[1] == "HW1234567"
    # the signature covers the RFC 9052 Sig_structure with our external_aad
    entry = key.public_entry()
    to_be_signed = cbor_encode(["Signature1", protected, CREDENTIAL_AAD, payload])
    assert entry.verify(sig, to_be_signed)
    assert not entry.verify(sig, cbor_encode(["Signature1", protected, b"", payload]))


def test_issuance_is_deterministic_in_payload(issuer):
    a = cbor_decode(issue(holder(), issuer)).value[2]
    b = cbor_decode(issue(holder(), issuer)).value[2]
    assert a == b


# --------------------------------------------------------------------------- failures

def test_tampered_payload_fails_signature(issuer):
    keyset = keys.KeySet.from_folder(issuer)
    item = cbor_decode(issue(holder(), issuer))
    protected, unprotected, payload, sig = item.value
    fields = cbor_decode(payload)
    fields[signed.PAYLOAD_KEYS["expiry_date"]] = "2099-01-01"
    forged = cbor_encode(Tag(18, [protected, unprotected, cbor_encode(fields), sig]))
    v = verify(forged, keyset, today=TODAY)
    assert not v.valid
    assert statuses(v) == {"format": "pass", "key_known": "pass", "key_not_retired": "pass",
                           "signature": "fail", "not_expired": "skipped",
                           "payload_schema": "skipped"}
    assert v.payload is None
    assert v.reason.startswith("signature:")


def test_flipped_signature_bit_fails(issuer):
    keyset = keys.KeySet.from_folder(issuer)
    cose = bytearray(issue(holder(), issuer))
    cose[-1] ^= 0x01
    v = verify(bytes(cose), keyset, today=TODAY)
    assert v.check("signature").status == "fail" and not v.valid


def test_retired_key(issuer):
    cose = issue(holder(), issuer)
    old = keys.active_key(issuer).kid
    keys.rotate(issuer)
    assert verify(cose, keys.KeySet.from_folder(issuer), today=TODAY).valid  # still valid
    keys.retire(issuer, old)
    v = verify(cose, keys.KeySet.from_folder(issuer), today=TODAY)
    assert not v.valid
    assert v.check("key_not_retired").status == "fail"
    assert "retired" in v.check("key_not_retired").reason
    assert v.check("signature").passed  # genuinely signed, but no longer trusted
    assert v.payload["document_number"] == "HW1234567"
    assert v.reason.startswith("key_not_retired:")


def test_unknown_key(issuer, tmp_path):
    other = tmp_path / "other"
    keys.create_key(other)
    v = verify(issue(holder(), issuer), keys.KeySet.from_folder(other), today=TODAY)
    assert not v.valid
    assert statuses(v)["key_known"] == "fail"
    assert "unknown key id" in v.check("key_known").reason
    assert statuses(v)["signature"] == "skipped" and v.payload is None


def test_expired_and_not_yet_valid(issuer):
    keyset = keys.KeySet.from_folder(issuer)
    cose = issue(holder(issue_date="2015-01-01", expiry_date="2025-01-01"), issuer)
    v = verify(cose, keyset, today=TODAY)
    assert not v.valid
    assert statuses(v)["not_expired"] == "fail" and "expired on 2025-01-01" in v.reason
    assert statuses(v)["signature"] == "pass" and statuses(v)["payload_schema"] == "pass"
    assert verify(cose, keyset, today=date(2025, 1, 1)).valid  # valid through expiry day
    assert not verify(cose, keyset, today=date(2014, 12, 31)).valid  # not yet issued


def test_wrong_algorithm_for_key(tmp_path):
    keys.create_key(tmp_path, "Ed25519")
    signer = keys.active_key(tmp_path)
    keyset = keys.KeySet.from_folder(tmp_path)
    payload = signed.build_payload(holder())
    protected = cbor_encode({1: -7, 4: signer.kid_bytes})  # claims ES256
    sig = signer.sign(signed.sig_structure(protected, payload, CREDENTIAL_AAD))
    v = verify(cbor_encode(Tag(18, [protected, {}, payload, sig])), keyset, today=TODAY)
    assert not v.valid
    assert statuses(v)["signature"] == "fail"
    assert "ES256" in v.check("signature").reason and "Ed25519" in v.check("signature").reason


def _signed_raw(signer, payload_map):
    return signed.sign1(cbor_encode(payload_map), signer, external_aad=CREDENTIAL_AAD)


def test_payload_schema_failures_are_reported(fixed):
    signer, keyset, _, _ = fixed
    good = cbor_decode(cbor_decode(issue(holder(), signer)).value[2])
    cases = {
        "unknown payload key 99": {**good, 99: "x"},
        "surname is missing": {k: v for k, v in good.items() if k != 3},
        "face_digest must be 32 bytes": {**good, 11: b"short"},
        "sex must be M, F or X": {**good, 6: "Q"},
        "expiry_date": {**good, 10: "2034-02-30"},
        "payload version": {**good, 0: 2},
        "nationality": {**good, 7: "hwy"},
        "expiry_date is before issue_date": {**good, 10: "2020-01-01"},
    }
    for reason, payload in cases.items():
        v = verify(_signed_raw(signer, payload), keyset, today=TODAY)
        assert not v.valid
        assert statuses(v)["signature"] == "pass"
        assert statuses(v)["payload_schema"] == "fail", reason
        assert reason in v.check("payload_schema").reason
    v = verify(signed.sign1(cbor_encode([1, 2]), signer, external_aad=CREDENTIAL_AAD), keyset)
    assert v.check("payload_schema").reason == "payload is not a CBOR map"


def test_signature_for_another_purpose_fails(fixed):
    signer, keyset, _, _ = fixed
    other = signed.sign1(signed.build_payload(holder()), signer, external_aad=b"")
    assert verify(other, keyset, today=TODAY).check("signature").status == "fail"


@pytest.mark.parametrize("mangle, expected", [
    (lambda c: c[:-10], "truncated"),
    (lambda c: b"\xd8\x62" + c[1:], "tag 98"),  # COSE_Sign (98) instead of 18
    (lambda c: c[1:], "expected CBOR tag 18"),
    (lambda c: c + b"\x00", "trailing"),
    (lambda c: b"", "truncated"),
    (lambda c: cbor_encode(Tag(18, [b"", {}, b"x", b"y"])), "no integer alg"),
    (lambda c: cbor_encode(Tag(18, [cbor_encode({1: -35, 4: b"k"}), {}, b"x", b"y"])),
     "unsupported algorithm -35"),
    (lambda c: cbor_encode(Tag(18, [cbor_encode({1: -8}), {}, b"x", b"y"])), "no kid"),
    (lambda c: cbor_encode(Tag(18, [cbor_encode({1: -8, 4: b"k"}), {}, None, b"y"])),
     "detached"),
    (lambda c: cbor_encode(Tag(18, [cbor_encode({1: -8, 4: b"k"}), {}, "text", b"y"])),
     "payload must be a byte string"),
    (lambda c: cbor_encode(Tag(18, [cbor_encode({1: -8, 4: b"k", 2: [1]}), {}, b"x", b"y"])),
     "critical"),
    (lambda c: cbor_encode(Tag(18, [b"x", {}, b"x"])), "array of 4"),
    (lambda c: b"\x00" * 9000, "exceeds"),
])
def test_malformed_messages_fail_format(fixed, mangle, expected):
    _, keyset, cose, _ = fixed
    v = verify(mangle(cose), keyset)
    assert not v.valid
    assert v.checks[0].name == "format" and v.checks[0].status == "fail"
    assert expected in v.checks[0].reason
    assert all(c.status == "skipped" for c in v.checks[1:])
    assert v.payload is None


@pytest.mark.parametrize("text, expected", [
    ("", "does not start with"),
    ("HC1:NCFOXN%TS3DH", "does not start with"),
    ("HW1:", "no data"),
    ("HW1:AAAAAA", "not valid zlib"),
    ("HW1:A", "length"),
    ("HW1:abc", "not in the base45 alphabet"),
    ("HW1:GGW", "> 65535"),
    ("HW1:" + "A" * 5000, "character limit"),
    ("x" * 10**6, "character limit"),
])
def test_malformed_qr_text_fails_format(fixed, text, expected):
    _, keyset, _, _ = fixed
    v = verify(text, keyset)
    assert not v.valid and v.checks[0].status == "fail"
    assert expected in v.checks[0].reason


def test_qr_text_bounds(fixed):
    _, keyset, cose, text = fixed
    bomb = "HW1:" + b45encode(zlib.compress(b"\x00" * 10_000_000, 9))
    assert len(bomb) < 20_000
    with pytest.raises(InvalidInput, match="limit"):
        decode_qr_text(bomb)
    truncated = "HW1:" + b45encode(zlib.compress(cose)[:-6])
    with pytest.raises(InvalidInput, match="truncated"):
        decode_qr_text(truncated)
    trailing = "HW1:" + b45encode(zlib.compress(cose) + b"junk")
    with pytest.raises(InvalidInput, match="after the zlib stream"):
        decode_qr_text(trailing)
    assert decode_qr_text(text) == cose
    with pytest.raises(InvalidInput):
        encode_qr_text(b"\x00" * (signed.MAX_COSE_BYTES + 1))


def test_garbage_keyset_does_not_raise(fixed):
    _, _, cose, _ = fixed
    for keyset in (None, {}, {"format": "hawiya-keyset", "version": 1, "keys": [7]}, "x"):
        v = verify(cose, keyset)
        assert not v.valid and v.check("key_known").status == "fail"


def test_non_bytes_input_does_not_raise(fixed):
    _, keyset, _, _ = fixed
    for thing in (None, 12, 3.5, [b"x"], {"a": 1}, object()):
        v = verify(thing, keyset)
        assert not v.valid and v.checks[0].status == "fail"


def test_revocation_entries_add_a_check(fixed):
    _, keyset, cose, _ = fixed
    v = verify(cose, keyset, today=TODAY, revoked=[])
    assert v.valid and v.checks[-1].name == "not_revoked" and v.checks[-1].passed
    v = verify(cose, keyset, today=TODAY, revoked=[
        {"document_number": "HW1234567", "status": "stolen", "since": "2026-01-02"}])
    assert not v.valid and "stolen since 2026-01-02" in v.check("not_revoked").reason


def test_issue_rejects_bad_fields(fixed):
    signer = fixed[0]
    for bad in (holder(sex="male"), holder(face_digest=b"123"), holder(face_digest="zz"),
                holder(nickname="x"), holder(expiry_date=20340101),
                {k: v for k, v in holder().items() if k != "surname"},
                holder(document_number=""), holder(surname="a\x00b"),
                holder(given_names="a\nb")):
        with pytest.raises(InvalidInput):
            issue(bad, signer)
    # a zero-width non-joiner (Persian names) is not a control character
    assert verify(issue(holder(given_names="مهر\u200cناز"), signer), fixed[1],
                  today=TODAY).valid
    # face digest as hex and a default issue date
    fields = holder(face_digest=hashlib.sha256(b"t").hexdigest())
    del fields["issue_date"]
    cose = issue(fields, signer, today=date(2025, 5, 5))
    v = verify(cose, fixed[1], today=TODAY)
    assert v.valid and v.payload["issue_date"] == "2025-05-05"


# --------------------------------------------------------------------------- base45, CBOR

@pytest.mark.parametrize("raw, text", [
    (b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"),
    (b"ietf!", "QED8WEX0"), (b"", ""),
])
def test_base45_rfc9285_vectors(raw, text):
    assert b45encode(raw) == text
    assert b45decode(text) == raw


@given(st.binary(max_size=600))
@settings(max_examples=300, deadline=None)
def test_base45_round_trip(data):
    assert b45decode(b45encode(data)) == data


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_base45_decode_only_raises_value_error(text):
    try:
        assert b45encode(b45decode(text)) == text
    except ValueError:
        pass


cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64 - 1) | st.binary(max_size=40)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.integers(-1000, 1000) | st.text(max_size=5), children, max_size=4)
    | st.builds(Tag, st.integers(0, 2**64 - 1), children),
    max_leaves=20)


@given(cbor_values)
@settings(max_examples=300, deadline=None)
def test_cbor_round_trip(value):
    assert cbor_decode(cbor_encode(value)) == value


@pytest.mark.parametrize("data, reason", [
    (b"\x18\x05", "non-shortest"), (b"\x5f\x41a\xff", "indefinite"),
    (b"\xf9\x3c\x00", "floating"), (b"\xf7", "simple value"), (b"\xa2\x01\x01\x01\x02",
                                                                "duplicate"),
    (b"\xa1\x41k\x01", "map keys"), (b"\x62\xc3\x28", "UTF-8"), (b"\x1c", "reserved"),
    (b"\x81" * 40 + b"\x00", "too deep"), (b"\x9b" + b"\xff" * 8, "truncated"),
    (b"\x5a\xff\xff\xff\xff", "truncated"), (b"\x01\x02", "trailing"),
])
def test_cbor_strictness(data, reason):
    with pytest.raises(CBORError, match=reason):
        cbor_decode(data)


def test_cbor_deterministic_map_order():
    assert cbor_encode({"b": 1, 10: 2, -1: 3, 1: 4, "a": 5}) == \
        bytes.fromhex("a5" "0104" "0a02" "2003" "616105" "616201")


def test_interoperates_with_cbor2(fixed):
    cbor2 = pytest.importorskip("cbor2")
    signer, keyset, cose, _ = fixed
    item = cbor2.loads(cose)
    assert item.tag == 18
    protected, unprotected, payload, sig = item.value
    assert cbor2.loads(protected) == {1: -8, 4: signer.kid_bytes}
    assert cbor2.loads(payload)[1] == "HW1234567"
    # a message built by cbor2 from our signature verifies
    rebuilt = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, sig]), canonical=True)
    assert rebuilt == cose
    assert verify(rebuilt, keyset, today=TODAY).valid


# --------------------------------------------------------------------------- fuzz

@given(st.binary(max_size=2000))
@FUZZ
def test_fuzz_random_bytes_never_raise(fixed, data):
    v = verify(data, fixed[1], today=TODAY)
    assert not v.valid and v.checks[0].name == "format"
    assert len(v.checks) == len(CHECKS)


@given(st.text(max_size=500))
@FUZZ
def test_fuzz_random_text_never_raises(fixed, text):
    assert not verify(text, fixed[1], today=TODAY).valid
    assert not verify("HW1:" + text, fixed[1], today=TODAY).valid


@given(st.data())
@FUZZ
def test_fuzz_mutated_credential_never_verifies(fixed, data):
    _, keyset, cose, _ = fixed
    mutated = bytearray(cose)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "set", "insert", "delete"]))
        i = data.draw(st.integers(0, max(0, len(mutated) - 1)))
        if op == "flip" and mutated:
            mutated[i] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "set" and mutated:
            mutated[i] = data.draw(st.integers(0, 255))
        elif op == "insert":
            mutated.insert(i, data.draw(st.integers(0, 255)))
        elif mutated:
            del mutated[i]
    v = verify(bytes(mutated), keyset, today=TODAY)
    assert v.valid == (bytes(mutated) == cose)
    if not v.valid:
        assert v.reason != "valid" and any(c.status == "fail" for c in v.checks)


@given(st.data())
@FUZZ
def test_fuzz_mutated_qr_text(fixed, data):
    _, keyset, cose, text = fixed
    chars = list(text)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(chars) - 1))
        chars[i] = data.draw(st.sampled_from(signed.B45_ALPHABET + "a\u00e9\x00"))
    v = verify("".join(chars), keyset, today=TODAY)
    if v.valid:  # only possible when the change hit ignored deflate padding bits
        assert decode_qr_text("".join(chars)) == cose
