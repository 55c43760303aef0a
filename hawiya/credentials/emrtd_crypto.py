"""Keys and signatures for eMRTD passive authentication (ICAO Doc 9303 part 12).

Certificates are read with asn1crypto and their keys rebuilt for ``cryptography`` here,
rather than handed to ``cryptography``'s X.509 loader, because many Document Signer and
CSCA certificates in circulation carry EC keys with *explicit* domain parameters, which that
loader refuses. An explicit curve is accepted only when its generator is the generator of a
named curve ``cryptography`` knows, and the key is then used on that named curve: the
certificate's parameters pick the curve but never define it.

Every failure here is a :class:`CryptoError` whose message is fit for a verdict's reason.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from datetime import UTC, date, datetime

from asn1crypto import algos, cms, keys, x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hawiya.credentials.emrtd_lds import encode_length

HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256,
    "sha384": hashes.SHA384, "sha512": hashes.SHA512}
DIGEST_OIDS = {"1.3.14.3.2.26": "sha1", "2.16.840.1.101.3.4.2.4": "sha224",
               "2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384",
               "2.16.840.1.101.3.4.2.3": "sha512"}
RSA_OID, RSA_PSS_OID, EC_OID = "1.2.840.113549.1.1.1", "1.2.840.113549.1.1.10", \
    "1.2.840.10045.2.1"
# signature algorithm OID -> (scheme, hash; None = the signer's digest algorithm, label)
SIGNATURE_OIDS: dict[str, tuple[str, str | None, str]] = {
    RSA_OID: ("pkcs1", None, "rsaEncryption"),
    "1.2.840.113549.1.1.5": ("pkcs1", "sha1", "sha1WithRSAEncryption"),
    "1.2.840.113549.1.1.14": ("pkcs1", "sha224", "sha224WithRSAEncryption"),
    "1.2.840.113549.1.1.11": ("pkcs1", "sha256", "sha256WithRSAEncryption"),
    "1.2.840.113549.1.1.12": ("pkcs1", "sha384", "sha384WithRSAEncryption"),
    "1.2.840.113549.1.1.13": ("pkcs1", "sha512", "sha512WithRSAEncryption"),
    RSA_PSS_OID: ("pss", None, "RSASSA-PSS"),
    EC_OID: ("ecdsa", None, "ecdsa"),  # the key's OID, seen in the field as a signature OID
    "1.2.840.10045.4.1": ("ecdsa", "sha1", "ecdsa-with-SHA1"),
    "1.2.840.10045.4.3.1": ("ecdsa", "sha224", "ecdsa-with-SHA224"),
    "1.2.840.10045.4.3.2": ("ecdsa", "sha256", "ecdsa-with-SHA256"),
    "1.2.840.10045.4.3.3": ("ecdsa", "sha384", "ecdsa-with-SHA384"),
    "1.2.840.10045.4.3.4": ("ecdsa", "sha512", "ecdsa-with-SHA512"),
    # BSI TR-03111 plain (r || s) ECDSA, used by some issuers
    "0.4.0.127.0.7.1.1.4.1.1": ("ecdsa-plain", "sha1", "ecdsa-plain-SHA1"),
    "0.4.0.127.0.7.1.1.4.1.2": ("ecdsa-plain", "sha224", "ecdsa-plain-SHA224"),
    "0.4.0.127.0.7.1.1.4.1.3": ("ecdsa-plain", "sha256", "ecdsa-plain-SHA256"),
    "0.4.0.127.0.7.1.1.4.1.4": ("ecdsa-plain", "sha384", "ecdsa-plain-SHA384"),
    "0.4.0.127.0.7.1.1.4.1.5": ("ecdsa-plain", "sha512", "ecdsa-plain-SHA512"),
}
CURVES: dict[str, type[ec.EllipticCurve]] = {
    "1.2.840.10045.3.1.1": ec.SECP192R1, "1.3.132.0.33": ec.SECP224R1,
    "1.2.840.10045.3.1.7": ec.SECP256R1, "1.3.132.0.34": ec.SECP384R1,
    "1.3.132.0.35": ec.SECP521R1, "1.3.36.3.3.2.8.1.1.7": ec.BrainpoolP256R1,
    "1.3.36.3.3.2.8.1.1.11": ec.BrainpoolP384R1, "1.3.36.3.3.2.8.1.1.13": ec.BrainpoolP512R1,
}
CONTENT_TYPE_OID, MESSAGE_DIGEST_OID = "1.2.840.113549.1.9.3", "1.2.840.113549.1.9.4"
_ATTRIBUTE_NAMES = {CONTENT_TYPE_OID: "contentType", MESSAGE_DIGEST_OID: "messageDigest"}
_ABBREVIATIONS = {"2.5.4.6": "C", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.3": "CN",
                  "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.5": "serialNumber"}

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class CryptoError(ValueError):
    """A key, certificate or signature that cannot be used; the message says why."""


def digest(name: str, data: bytes) -> bytes:
    h = hashes.Hash(HASHES[name]())
    h.update(data)
    return h.finalize()


def digest_name(algorithm: algos.DigestAlgorithm) -> str:
    oid = algorithm["algorithm"].dotted
    if oid not in DIGEST_OIDS:
        raise CryptoError(f"unsupported hash algorithm {oid}")
    return DIGEST_OIDS[oid]


# =========================================================================== keys

@functools.cache
def _generators() -> dict[bytes, type[ec.EllipticCurve]]:
    """Uncompressed generator point -> named curve (the public key of private scalar 1)."""
    out = {}
    for curve in CURVES.values():
        point = ec.derive_private_key(1, curve()).public_key()
        out[point.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)] = curve
    return out


def _explicit_curve(params: keys.SpecifiedECDomain) -> type[ec.EllipticCurve]:
    base = bytes(params["base"].native)
    for generator, curve in _generators().items():
        size = (len(generator) - 1) // 2
        compressed = bytes([2 | (generator[-1] & 1)]) + generator[1:1 + size]
        if base in (generator, compressed):
            return curve
    raise CryptoError("explicit EC domain parameters that match no supported named curve")


@functools.lru_cache(maxsize=512)
def load_public_key(spki_der: bytes) -> PublicKey:
    """A ``cryptography`` key from a DER SubjectPublicKeyInfo (RSA, RSA-PSS or EC)."""
    try:
        spki = keys.PublicKeyInfo.load(spki_der)
        oid = spki["algorithm"]["algorithm"].dotted
        if oid in (RSA_OID, RSA_PSS_OID):
            parsed = spki["public_key"].parsed
            return rsa.RSAPublicNumbers(parsed["public_exponent"].native,
                                        parsed["modulus"].native).public_key()
        if oid == EC_OID:
            params = spki["algorithm"]["parameters"]
            if params.name == "named":
                curve_oid = params.chosen.dotted
                if curve_oid not in CURVES:
                    raise CryptoError(f"unsupported elliptic curve {curve_oid}")
                curve = CURVES[curve_oid]
            elif params.name == "specified":
                curve = _explicit_curve(params.chosen)
            else:
                raise CryptoError("EC key without domain parameters (implicitlyCA)")
            point = bytes(spki["public_key"].native)
            return ec.EllipticCurvePublicKey.from_encoded_point(curve(), point)
        raise CryptoError(f"unsupported public key algorithm {oid}")
    except CryptoError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError,
            UnsupportedAlgorithm) as exc:
        raise CryptoError(f"unusable public key: {_short(exc)}") from None


def certificate_key(cert: x509.Certificate) -> PublicKey:
    return load_public_key(cert["tbs_certificate"]["subject_public_key_info"].dump())


# =========================================================================== signatures

def verify_signature(key: PublicKey, algorithm: algos.SignedDigestAlgorithm,
                     signature: bytes, data: bytes, default_hash: str | None = None) -> str:
    """Check ``signature`` over ``data``; returns a label such as ``ecdsa-with-SHA256``.

    ``default_hash`` is the CMS signer's digest algorithm, used by the signature OIDs that
    name no hash of their own (rsaEncryption, ecPublicKey). Raises CryptoError.
    """
    oid = algorithm["algorithm"].dotted
    if oid not in SIGNATURE_OIDS:
        raise CryptoError(f"unsupported signature algorithm {oid}")
    scheme, hash_name, label = SIGNATURE_OIDS[oid]
    if scheme == "pss":
        pad, hash_name, label = _pss(algorithm["parameters"])
    else:
        if hash_name is None:
            if default_hash is None:
                raise CryptoError(f"{label} names no hash algorithm")
            hash_name, label = default_hash, f"{label}/{default_hash.upper()}"
        pad = padding.PKCS1v15()
    rsa_scheme = scheme in ("pkcs1", "pss")
    if rsa_scheme != isinstance(key, rsa.RSAPublicKey):
        kind = "an RSA" if isinstance(key, rsa.RSAPublicKey) else "an EC"
        raise CryptoError(f"{label} signature but the signer has {kind} key")
    try:
        if rsa_scheme:
            key.verify(signature, data, pad, HASHES[hash_name]())
        else:
            if scheme == "ecdsa-plain":
                signature = _plain_to_der(signature, key.curve.key_size)
            key.verify(signature, data, ec.ECDSA(HASHES[hash_name]()))
    except InvalidSignature:
        raise CryptoError(f"the {label} signature does not verify") from None
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise CryptoError(f"the {label} signature cannot be checked: {_short(exc)}") from None
    return label


def _pss(params: algos.RSASSAPSSParams) -> tuple[padding.PSS, str, str]:
    hash_name = digest_name(params["hash_algorithm"])
    mgf = params["mask_gen_algorithm"]
    if mgf["algorithm"].dotted != "1.2.840.113549.1.1.8":
        raise CryptoError("RSASSA-PSS with a mask generation function other than MGF1")
    mgf_hash = digest_name(mgf["parameters"])
    if params["trailer_field"].native not in ("trailer_field_bc", 1):
        raise CryptoError("RSASSA-PSS with a trailer field other than 0xBC")
    salt = params["salt_length"].native
    pss = padding.PSS(mgf=padding.MGF1(HASHES[mgf_hash]()), salt_length=salt)
    return pss, hash_name, f"RSASSA-PSS/{hash_name.upper()}"


def _plain_to_der(signature: bytes, key_size: int) -> bytes:
    size = (key_size + 7) // 8
    if len(signature) != 2 * size:
        raise CryptoError(f"plain ECDSA signature of {len(signature)} bytes, {2 * size} "
                          "expected")
    r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
    return encode_dss_signature(r, s)


def verify_certificate(cert: x509.Certificate, issuer_key: PublicKey) -> str:
    """Check the issuer's signature on ``cert``; returns the algorithm label."""
    outer_alg = cert["signature_algorithm"]
    if outer_alg.dump() != cert["tbs_certificate"]["signature"].dump():
        raise CryptoError("the certificate's two signature algorithm fields differ")
    return verify_signature(issuer_key, outer_alg, cert["signature_value"].native,
                            cert["tbs_certificate"].dump())


def verify_signer_info(signer: cms.SignerInfo, key: PublicKey, content: bytes,
                       content_type: str) -> tuple[str, str]:
    """Check a CMS signer's signed attributes and signature over ``content``.

    The signed attributes must hold exactly one contentType equal to ``content_type`` and
    one messageDigest equal to the hash of ``content``; the signature covers their DER SET
    (tag 0x31 in place of the [0] tag they carry inside SignerInfo). Returns (signature
    label, digest name); raises CryptoError.
    """
    hash_name = digest_name(signer["digest_algorithm"])
    attrs = signer["signed_attrs"]
    if not isinstance(attrs, cms.CMSAttributes):
        raise CryptoError("the signer info has no signed attributes (contentType and "
                          "messageDigest are required)")
    found: dict[str, list] = {CONTENT_TYPE_OID: [], MESSAGE_DIGEST_OID: []}
    for attr in attrs:
        oid = attr["type"].dotted
        if oid in found:
            if found[oid]:
                raise CryptoError(f"the signed attributes repeat {_ATTRIBUTE_NAMES[oid]}")
            found[oid] = list(attr["values"])
    for oid, values in found.items():
        if len(values) != 1:
            raise CryptoError(f"the signed attributes need exactly one {_ATTRIBUTE_NAMES[oid]} "
                              f"value, found {len(values)}")
    if found[CONTENT_TYPE_OID][0].dotted != content_type:
        raise CryptoError(f"signed contentType {found[CONTENT_TYPE_OID][0].dotted} is not "
                          f"{content_type}")
    expected = digest(hash_name, content)
    if not hmac.compare_digest(bytes(found[MESSAGE_DIGEST_OID][0].native), expected):
        raise CryptoError(f"signed messageDigest is not the {hash_name} of the content")
    signed = b"\x31" + encode_length(len(attrs.contents)) + attrs.contents
    label = verify_signature(key, signer["signature_algorithm"], signer["signature"].native,
                             signed, hash_name)
    return label, hash_name


# =========================================================================== certificates

def name_text(name: x509.Name) -> str:
    """``C=UT, O=Utopia, CN=CSCA`` in the order the name was written."""
    parts = []
    for rdn in name.chosen:
        for atv in rdn:
            key = _ABBREVIATIONS.get(atv["type"].dotted, atv["type"].dotted)
            value = atv["value"].native
            parts.append(f"{key}={value}" if isinstance(value, str) else f"{key}={value!r}")
    return ", ".join(parts)


@functools.lru_cache(maxsize=1024)
def _name_key(der: bytes) -> str:
    return x509.Name.load(der).hashable


def name_key(name: x509.Name) -> str:
    """The RFC 5280 comparison form of a name (LDAP string prep: case, spaces), cached by
    its DER because the preparation is the slowest step of a verification."""
    return _name_key(name.dump())


def validity(cert: x509.Certificate) -> tuple[datetime, datetime]:
    v = cert["tbs_certificate"]["validity"]
    return v["not_before"].native, v["not_after"].native


def check_time(today: date | datetime | None) -> date | datetime:
    """The moment certificates are judged at: now (UTC) by default; a naive datetime is UTC;
    a date compares by day."""
    if today is None:
        return datetime.now(UTC)
    if isinstance(today, datetime):
        return today if today.tzinfo else today.replace(tzinfo=UTC)
    if isinstance(today, date):
        return today
    raise TypeError(f"today must be a date or datetime, not {type(today).__name__}")


def validity_problem(cert: x509.Certificate, when: date | datetime, what: str) -> str | None:
    """Why ``cert`` is not valid at ``when`` (a date compares by day), or None."""
    start, end = validity(cert)
    if isinstance(when, datetime):
        early, late = when < start, when > end
        shown = when.isoformat(timespec="seconds")
    else:
        early, late = when < start.date(), when > end.date()
        shown = when.isoformat()
    if late:
        return f"{what} expired on {end.date().isoformat()} (checked at {shown})"
    if early:
        return f"{what} not valid before {start.date().isoformat()} (checked at {shown})"
    return None


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]
