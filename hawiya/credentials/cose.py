"""COSE_Sign1 (RFC 9052): sign, parse and check single-signer messages with issuer keys.

A credential is a tagged COSE_Sign1 message (CBOR tag 18)::

    18([protected: bstr .cbor {1: alg, 4: kid}, unprotected: {}, payload: bstr, signature])

``alg`` is EdDSA (-8, Ed25519) or ES256 (-7, signature as raw ``r || s``); ``kid`` is the
8-byte key id of :mod:`hawiya.credentials.keys`. The signature covers the Sig_structure
``["Signature1", protected, external_aad, payload]`` with ``external_aad`` set to
``b"hawiya-credential-v1"`` (revocation lists use another value), so a message signed for
one purpose never verifies as the other.

:func:`check_sign1` runs the checks shared by credentials (:mod:`hawiya.credentials.signed`)
and revocation lists (:mod:`hawiya.credentials.revocation`): ``format``, ``key_known``,
``key_not_retired`` and ``signature``, each a :class:`Check` collected in a ``_Steps``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from hawiya.credentials.cbor import CBORError, Tag, cbor_decode, cbor_encode
from hawiya.credentials.keys import COSE_ALG_NAMES, KeySet, SigningKey, active_key
from hawiya.errors import InvalidInput

COSE_SIGN1_TAG = 18
HEADER_ALG, HEADER_CRIT, HEADER_KID = 1, 2, 4


class Sign1(NamedTuple):
    """A parsed COSE_Sign1 message (not yet verified)."""

    protected: bytes
    alg: int
    kid: bytes
    payload: bytes
    signature: bytes


def sig_structure(protected: bytes, payload: bytes, external_aad: bytes = b"") -> bytes:
    """The bytes a COSE_Sign1 signature covers (RFC 9052, 4.4)."""
    return cbor_encode(["Signature1", protected, external_aad, payload])


def sign1(payload: bytes, key: SigningKey, *, external_aad: bytes = b"") -> bytes:
    """A tagged COSE_Sign1 message over ``payload`` with ``key`` (alg and kid protected)."""
    protected = cbor_encode({HEADER_ALG: key.cose_alg, HEADER_KID: key.kid_bytes})
    signature = key.sign(sig_structure(protected, payload, external_aad))
    return cbor_encode(Tag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def parse_sign1(data: bytes) -> Sign1:
    """Structure of a COSE_Sign1 message; CBORError with the reason when it is not one."""
    item = cbor_decode(data)
    if not isinstance(item, Tag) or item.tag != COSE_SIGN1_TAG:
        what = f"tag {item.tag}" if isinstance(item, Tag) else type(item).__name__
        raise CBORError(f"not a COSE_Sign1 message: expected CBOR tag 18, found {what}")
    body = item.value
    if not isinstance(body, list) or len(body) != 4:
        raise CBORError("COSE_Sign1 must be an array of 4 items")
    protected, unprotected, payload, signature = body
    if not isinstance(protected, bytes):
        raise CBORError("COSE_Sign1 protected header must be a byte string")
    if not isinstance(unprotected, dict):
        raise CBORError("COSE_Sign1 unprotected header must be a map")
    if payload is None:
        raise CBORError("detached payloads are not supported")
    if not isinstance(payload, bytes):
        raise CBORError("COSE_Sign1 payload must be a byte string")
    if not isinstance(signature, bytes):
        raise CBORError("COSE_Sign1 signature must be a byte string")
    headers = cbor_decode(protected) if protected else {}
    if not isinstance(headers, dict):
        raise CBORError("protected header is not a map")
    if HEADER_CRIT in headers or HEADER_CRIT in unprotected:
        raise CBORError("critical header parameters are not supported")
    if HEADER_ALG in unprotected:
        raise CBORError("alg must be in the protected header")
    alg = headers.get(HEADER_ALG)
    if not isinstance(alg, int) or isinstance(alg, bool):
        raise CBORError("protected header has no integer alg")
    if alg not in COSE_ALG_NAMES:
        raise CBORError(f"unsupported algorithm {alg} (EdDSA -8 or ES256 -7 expected)")
    kid = headers.get(HEADER_KID)
    loose = unprotected.get(HEADER_KID)
    if kid is None:
        kid = loose
    elif loose is not None and loose != kid:
        raise CBORError("protected and unprotected kid differ")
    if not isinstance(kid, bytes) or not kid:
        raise CBORError("no kid (byte string) in the headers")
    return Sign1(protected, alg, kid, payload, signature)


# =========================================================================== checks

@dataclass(frozen=True)
class Check:
    """One verification step: ``status`` is ``pass``, ``fail`` or ``skipped``."""

    name: str
    status: str
    reason: str

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "passed": self.passed,
                "reason": self.reason}


@dataclass
class _Steps:
    results: dict[str, Check] = field(default_factory=dict)

    def ok(self, name: str, reason: str) -> None:
        self.results[name] = Check(name, "pass", reason)

    def fail(self, name: str, reason: str) -> None:
        self.results[name] = Check(name, "fail", reason)

    def skip_rest(self, names: tuple[str, ...], reason: str) -> None:
        for n in names:
            self.results.setdefault(n, Check(n, "skipped", reason))


def check_not_revoked(number: str, revoked: Any, steps: _Steps, noun: str) -> None:
    """Run ``not_revoked``: ``revoked`` is a list of revocation entries or an index of them
    by number (:func:`hawiya.vehicles.eplate.revocation_index`, O(1) per look-up)."""
    try:
        if isinstance(revoked, Mapping):
            hit = revoked.get(number)
        else:
            hit = next((e for e in revoked if isinstance(e, Mapping)
                        and e.get("document_number") == number), None)
    except TypeError:
        steps.fail("not_revoked", "the revocation entries given are not a list")
        return
    if hit is None:
        steps.ok("not_revoked", "not on the revocation list")
    else:
        since = f" since {hit.get('since')}" if hit.get("since") else ""
        steps.fail("not_revoked", f"{noun} {number} is {hit.get('status', 'revoked')}{since}")


def check_sign1(data: Any, keyset: KeySet | Mapping[str, Any], external_aad: bytes,
                steps: _Steps, *, max_bytes: int) -> tuple[Sign1 | None, Any]:
    """Run ``format``, ``key_known``, ``key_not_retired`` and ``signature`` into ``steps``.

    Returns the parsed message (when the format is right) and the key entry (when known).
    Shared by credentials and revocation lists; never raises on outside input.
    """
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        steps.fail("format", f"expected bytes or QR text, not {type(data).__name__}")
        return None, None
    if len(data) > max_bytes:
        steps.fail("format", f"message of {len(data)} bytes exceeds the {max_bytes}-byte "
                             "limit")
        return None, None
    try:
        msg = parse_sign1(data)
    except CBORError as exc:
        steps.fail("format", str(exc))
        return None, None
    except RecursionError:  # pragma: no cover - depth is bounded well below the limit
        steps.fail("format", "CBOR nesting too deep")
        return None, None
    steps.ok("format", f"COSE_Sign1, {COSE_ALG_NAMES[msg.alg]}, {len(data)} bytes")
    kid_hex = msg.kid.hex()
    if not isinstance(keyset, KeySet):
        try:
            keyset = KeySet.from_export(keyset)
        except InvalidInput as exc:
            steps.fail("key_known", f"the key set given to the verifier is unusable: {exc}")
            return msg, None
    entry = keyset.get(msg.kid)
    if entry is None:
        steps.fail("key_known", f"unknown key id {kid_hex[:64]}: not in the verifier's key "
                                "set")
        return msg, None
    steps.ok("key_known", f"key {kid_hex} ({entry.algorithm}, {entry.status})")
    if entry.status == "retired":
        when = f" on {entry.retired}" if entry.retired else ""
        steps.fail("key_not_retired", f"key {kid_hex} was retired{when}: no longer trusted")
    else:
        steps.ok("key_not_retired", f"key {kid_hex} is {entry.status}")
    if msg.alg != entry.cose_alg:
        steps.fail("signature", f"message says {COSE_ALG_NAMES[msg.alg]} but key {kid_hex} "
                                f"is an {entry.algorithm} key")
    elif entry.verify(msg.signature, sig_structure(msg.protected, msg.payload, external_aad)):
        steps.ok("signature", f"{entry.algorithm} signature by {kid_hex} is good")
    else:
        steps.fail("signature", "signature does not match (the data was altered, or it was "
                                "not signed by this key or for this purpose)")
    return msg, entry


# =========================================================================== signing key

def _signing_key(keys: Any) -> SigningKey:
    if isinstance(keys, SigningKey):
        return keys
    if isinstance(keys, (str, bytes)) or hasattr(keys, "__fspath__"):
        return active_key(keys)
    raise InvalidInput("keys must be a SigningKey or an issuer key folder")
