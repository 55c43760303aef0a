"""Signed revocation lists: signature, lookup, staleness, retired keys, garbage input."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hawiya.credentials import keys, signed
from hawiya.credentials.cbor import Tag, cbor_decode, cbor_encode
from hawiya.credentials.revocation import (
    is_revoked,
    sign_revocation_list,
    verify_revocation_list,
)
from hawiya.errors import InvalidInput

ISSUED = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
NEXT = datetime(2026, 6, 8, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 6, 2, tzinfo=UTC)
ENTRIES = [
    {"document_number": "HW7654321", "status": "stolen", "since": date(2026, 5, 30)},
    {"document_number": "HW1234567", "status": "revoked", "since": "2026-01-15"},
    {"document_number": "HW0000042", "status": "lost", "since": "2025-12-24"},
]


@pytest.fixture(params=["Ed25519", "ES256"])
def issuer(tmp_path, request):
    keys.create_key(tmp_path / "issuer", request.param)
    return tmp_path / "issuer"


def test_sign_verify_and_lookup(issuer):
    data = sign_revocation_list(ENTRIES, issuer, ISSUED, NEXT)
    export = json.loads(json.dumps(keys.public_keyset(issuer)))
    ok, entries, reason = verify_revocation_list(data, export, now=NOW)
    assert ok, reason
    assert "3 entries" in reason
    assert [e["document_number"] for e in entries] == ["HW0000042", "HW1234567", "HW7654321"]
    assert is_revoked(entries, "HW7654321") == {"document_number": "HW7654321",
                                                "status": "stolen", "since": "2026-05-30"}
    assert is_revoked(entries, "HW1234567")["status"] == "revoked"
    assert is_revoked(entries, "HW9999999") is None
    ok, entries, _ = verify_revocation_list(sign_revocation_list([], issuer, ISSUED, NEXT),
                                            keys.KeySet.from_folder(issuer), now=NOW)
    assert ok and entries == []


def test_tampered_list_fails_signature(issuer):
    keyset = keys.KeySet.from_folder(issuer)
    item = cbor_decode(sign_revocation_list(ENTRIES, issuer, ISSUED, NEXT))
    protected, unprotected, payload, sig = item.value
    body = cbor_decode(payload)
    body[3] = [row for row in body[3] if row[0] != "HW7654321"]  # un-revoke a stolen card
    forged = cbor_encode(Tag(18, [protected, unprotected, cbor_encode(body), sig]))
    ok, entries, reason = verify_revocation_list(forged, keyset, now=NOW)
    assert not ok and entries == [] and reason.startswith("signature:")


def test_stale_list_returns_entries_but_not_ok(issuer):
    data = sign_revocation_list(ENTRIES, issuer, ISSUED, NEXT)
    ok, entries, reason = verify_revocation_list(data, keys.KeySet.from_folder(issuer),
                                                 now=datetime(2026, 7, 1))
    assert not ok and len(entries) == 3
    assert reason.startswith("stale") and "2026-06-08T08:00:00Z" in reason


def test_retired_key_and_unknown_key(issuer, tmp_path):
    data = sign_revocation_list(ENTRIES, issuer, ISSUED, NEXT)
    keys.retire(issuer, keys.list_keys(issuer)[0]["kid"])
    ok, entries, reason = verify_revocation_list(data, keys.KeySet.from_folder(issuer), now=NOW)
    assert not ok and reason.startswith("key_not_retired") and len(entries) == 3
    keys.create_key(tmp_path / "other")
    ok, entries, reason = verify_revocation_list(
        data, keys.KeySet.from_folder(tmp_path / "other"), now=NOW)
    assert not ok and entries == [] and reason.startswith("key_known")


def test_lists_and_credentials_are_not_interchangeable(issuer):
    keyset = keys.KeySet.from_folder(issuer)
    rl = sign_revocation_list(ENTRIES, issuer, ISSUED, NEXT)
    v = signed.verify(rl, keyset)
    assert not v.valid and v.check("signature").status == "fail"
    card = signed.issue({
        "document_number": "HW1", "document_type": "ID", "surname": "A", "given_names": "B",
        "date_of_birth": "1990", "sex": "X", "nationality": "HWY",
        "issuing_authority": "MOI", "issue_date": "2024-01-01", "expiry_date": "2030-01-01",
        "face_digest": b"\x01" * 32}, issuer)
    ok, entries, reason = verify_revocation_list(card, keyset, now=NOW)
    assert not ok and reason.startswith("signature:")


def test_malformed_payload_is_reported(issuer):
    signer = keys.active_key(issuer)
    keyset = keys.KeySet.from_folder(issuer)
    from hawiya.credentials.revocation import REVOCATION_AAD

    for body, expected in (({0: 1}, "keys 0-3"),
                           ({0: 1, 1: "x", 2: "2026-06-08T08:00:00Z", 3: []}, "issued_at"),
                           ({0: 1, 1: "2026-06-01T08:00:00Z", 2: "2026-06-08T08:00:00Z",
                             3: [["A", "missing", "2026-01-01"]]}, "bad status")):
        data = signed.sign1(cbor_encode(body), signer, external_aad=REVOCATION_AAD)
        ok, entries, reason = verify_revocation_list(data, keyset, now=NOW)
        assert not ok and entries == [] and expected in reason


@pytest.mark.parametrize("entries, issued, nxt", [
    ([{"document_number": "A", "status": "expired", "since": "2026-01-01"}], ISSUED, NEXT),
    ([{"document_number": "A", "status": "lost", "since": "2026-13-01"}], ISSUED, NEXT),
    ([{"document_number": "", "status": "lost", "since": "2026-01-01"}], ISSUED, NEXT),
    ([{"document_number": "A", "status": "lost", "since": "2026-01-01"}] * 2, ISSUED, NEXT),
    ([], NEXT, ISSUED),
    ([], "yesterday", NEXT),
    (["A"], ISSUED, NEXT),
])
def test_sign_rejects_bad_input(issuer, entries, issued, nxt):
    with pytest.raises(InvalidInput):
        sign_revocation_list(entries, issuer, issued, nxt)


@given(st.binary(max_size=1500))
@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzz_garbage_never_raises(tmp_path, data):
    folder = tmp_path / "fuzz"
    if not folder.exists():
        keys.create_key(folder)
    ok, entries, reason = verify_revocation_list(data, keys.KeySet.from_folder(folder))
    assert not ok and entries == [] and reason
