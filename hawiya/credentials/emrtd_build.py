"""Build eMRTD test material: CSCA -> Document Signer -> EF.SOD, data groups, master lists.

For tests, benchmarks and integration rigs only: real documents come from a state's PKI.
The shapes follow ICAO Doc 9303 so that :mod:`hawiya.credentials.emrtd` is exercised as a
real chip would exercise it:

* certificates (part 12): X.509 v3; a CSCA has basicConstraints cA (critical, pathLen 0),
  keyUsage keyCertSign + cRLSign (critical), subject and authority key identifiers and a
  private key usage period; a Document Signer has keyUsage digitalSignature (critical), the
  key identifiers and a private key usage period; a master list signer adds the extended
  key usage id-icao-cscaMasterListSigningKey. X.509 countryName is two letters, so a
  three-letter ICAO code such as UTO is cut to its first two (UT), as it is for the
  fictitious Utopia; pass a two-letter code for a real state.
* EF.SOD (parts 10 and 12): tag 0x77 around a CMS ContentInfo, SignedData v3, the DSC in
  ``certificates``, one SignerInfo (v1 issuerAndSerialNumber, or v3 subjectKeyIdentifier)
  whose signed attributes are contentType, signingTime and messageDigest, and an
  encapsulated LDSSecurityObject v0 (v1 with LDSVersionInfo when ``lds_version`` is given).
* DG1: 61 { 5F1F MRZ }. DG2: 75 { 7F61 { 02 count, 7F60 { A1 header (80 ICAO header
  version 0101, 81 type face, 82 subtype, 87 format owner 0101, 88 format type 0008),
  5F2E ISO/IEC 19794-5:2005 facial record } } }.
* master list (part 12): ContentInfo, SignedData v3 with content type
  id-icao-cscaMasterList and content CscaMasterList v0.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from asn1crypto import algos, cms, keys, pem, x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from hawiya.credentials.emrtd_crypto import HASHES, digest
from hawiya.credentials.emrtd_csca import CSCA_MASTER_LIST_OID, CscaMasterList
from hawiya.credentials.emrtd_lds import (
    BIOMETRIC_GROUP_TAG,
    BIOMETRIC_TEMPLATE_TAG,
    DG_TAGS,
    HEADER_TEMPLATE_TAG,
    J2K_MAGIC,
    JP2_MAGIC,
    JPEG_MAGIC,
    MRZ_LENGTHS,
    MRZ_TAG,
    SOD_TAG,
    LDSSecurityObject,
    tlv,
)

LDS_SECURITY_OBJECT_OID = "2.23.136.1.1.1"
MASTER_LIST_SIGNING_EKU = "2.23.136.1.1.3"
KEY_TYPES = {
    "ecdsa-p256": ec.SECP256R1, "ecdsa-p384": ec.SECP384R1, "ecdsa-p521": ec.SECP521R1,
    "ecdsa-brainpoolp256r1": ec.BrainpoolP256R1, "ecdsa-brainpoolp384r1": ec.BrainpoolP384R1,
    "ecdsa-brainpoolp512r1": ec.BrainpoolP512R1, "rsa2048": 2048, "rsa3072": 3072,
    "rsa4096": 4096}
# P-256 (FIPS 186-4) for keys written with explicit domain parameters; a and b follow
# from the curve's generator, which cryptography gives us.
_P256_PRIME = 2**256 - 2**224 + 2**192 + 2**96 - 1
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class Signer:
    """A certificate and its private key: a CSCA, a Document Signer or a list signer."""

    certificate: x509.Certificate
    private_key: PrivateKey

    @property
    def der(self) -> bytes:
        return self.certificate.dump()

    @property
    def pem(self) -> bytes:
        return pem.armor("CERTIFICATE", self.der)

    @property
    def ski(self) -> bytes:
        return self.certificate.key_identifier


def new_key(kind: str) -> PrivateKey:
    if kind not in KEY_TYPES:
        raise ValueError(f"key must be one of {', '.join(KEY_TYPES)}")
    spec = KEY_TYPES[kind]
    if isinstance(spec, int):
        return rsa.generate_private_key(public_exponent=65537, key_size=spec)
    return ec.generate_private_key(spec())


def _when(value: date | datetime | None, default: datetime) -> datetime:
    if value is None:
        return default
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _time(moment: datetime) -> x509.Time:
    """UTCTime before 2050, GeneralizedTime from then on (RFC 5280 4.1.2.5)."""
    return x509.Time({"utc_time" if moment.year < 2050 else "general_time": moment})


def _signature_algorithm(key: PrivateKey, hash_name: str, pss: bool) -> dict:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {"algorithm": f"{hash_name}_ecdsa"}
    if not pss:
        return {"algorithm": f"{hash_name}_rsa"}
    params = algos.RSASSAPSSParams({
        "hash_algorithm": {"algorithm": hash_name},
        "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": hash_name}},
        "salt_length": HASHES[hash_name]().digest_size})
    return {"algorithm": "rsassa_pss", "parameters": params}


def _sign(key: PrivateKey, data: bytes, hash_name: str, pss: bool) -> bytes:
    algorithm = HASHES[hash_name]()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(algorithm))
    if pss:
        return key.sign(data, padding.PSS(mgf=padding.MGF1(HASHES[hash_name]()),
                                          salt_length=algorithm.digest_size), algorithm)
    return key.sign(data, padding.PKCS1v15(), algorithm)


def _spki(key: PrivateKey, explicit: bool) -> keys.PublicKeyInfo:
    public = key.public_key()
    der = public.public_bytes(serialization.Encoding.DER,
                              serialization.PublicFormat.SubjectPublicKeyInfo)
    if not explicit:
        return keys.PublicKeyInfo.load(der)
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != "secp256r1":
        raise ValueError("explicit domain parameters are built for P-256 keys only")
    p = _P256_PRIME
    g = ec.derive_private_key(1, ec.SECP256R1()).public_key().public_numbers()
    a = p - 3
    b = (g.y * g.y - g.x ** 3 - a * g.x) % p
    point = public.public_bytes(serialization.Encoding.X962,
                                serialization.PublicFormat.UncompressedPoint)
    domain = keys.SpecifiedECDomain({
        "version": "ecdpVer1",
        "field_id": {"field_type": "prime_field", "parameters": keys.Integer(p)},
        "curve": {"a": a.to_bytes(32, "big"), "b": b.to_bytes(32, "big")},
        "base": b"\x04" + g.x.to_bytes(32, "big") + g.y.to_bytes(32, "big"),
        "order": _P256_ORDER, "cofactor": 1})
    return keys.PublicKeyInfo({
        "algorithm": {"algorithm": "ec", "parameters": keys.ECDomainParameters(
            name="specified", value=domain)},
        "public_key": point})


def _name(country: str, common_name: str) -> x509.Name:
    code = country.upper()[:2]
    return x509.Name.build({"country_name": code, "organization_name": "Hawiya test PKI",
                            "common_name": common_name})


def _issue(subject: x509.Name, key: PrivateKey, issuer: Signer | None, *,
           not_before: datetime, not_after: datetime, extensions: list[dict],
           hash_name: str, pss: bool, serial: int | None, explicit: bool = False,
           subject_key_id: bytes | None = None,
           authority_key_id: bytes | None = None) -> Signer:
    spki = _spki(key, explicit)
    ski = subject_key_id or hashlib.sha1(spki["public_key"].contents[1:]).digest()
    signer_key = issuer.private_key if issuer else key
    aki = authority_key_id or (issuer.ski if issuer else ski)
    usage_end = min(not_after, not_before + timedelta(days=92 if issuer else 5 * 365))
    algorithm = _signature_algorithm(signer_key, hash_name, pss)
    tbs = x509.TbsCertificate({
        "version": "v3", "serial_number": serial or (secrets.randbits(63) | 1),
        "signature": algorithm,
        "issuer": issuer.certificate.subject if issuer else subject,
        "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
        "subject": subject, "subject_public_key_info": spki,
        "extensions": [
            *extensions,
            {"extn_id": "key_identifier", "critical": False, "extn_value": ski},
            {"extn_id": "authority_key_identifier", "critical": False,
             "extn_value": {"key_identifier": aki}},
            {"extn_id": "private_key_usage_period", "critical": False,
             "extn_value": {"not_before": not_before,
                            "not_after": usage_end}}]})
    signature = _sign(signer_key, tbs.dump(), hash_name, pss)
    cert = x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": algorithm,
                             "signature_value": signature})
    return Signer(x509.Certificate.load(cert.dump()), key)


def make_csca(country: str = "UTO", key: str = "ecdsa-p256",
              not_before: date | datetime | None = None,
              not_after: date | datetime | None = None, *, common_name: str | None = None,
              hash: str = "sha256", pss: bool = False, serial: int | None = None,
              subject_key_id: bytes | None = None) -> Signer:
    """A self-signed Country Signing CA (valid from a day ago for 15 years by default)."""
    start = _when(not_before, _now() - timedelta(days=1))
    end = _when(not_after, start + timedelta(days=15 * 365))
    return _issue(_name(country, common_name or f"CSCA {country.upper()}"), new_key(key),
                  None, not_before=start, not_after=end, hash_name=hash, pss=pss,
                  serial=serial, subject_key_id=subject_key_id, extensions=[
                      {"extn_id": "basic_constraints", "critical": True,
                       "extn_value": {"ca": True, "path_len_constraint": 0}},
                      {"extn_id": "key_usage", "critical": True,
                       "extn_value": {"key_cert_sign", "crl_sign"}}])


def make_dsc(csca: Signer, *, key: str = "ecdsa-p256",
             not_before: date | datetime | None = None,
             not_after: date | datetime | None = None, common_name: str | None = None,
             hash: str = "sha256", pss: bool = False, serial: int | None = None,
             explicit_curve: bool = False, authority_key_id: bytes | None = None) -> Signer:
    """A Document Signer issued by ``csca`` (valid from a day ago for 10 years by default).

    ``pss`` makes the CSCA sign with RSASSA-PSS; ``explicit_curve`` writes a P-256 key with
    explicit domain parameters, as many issuers do.
    """
    start = _when(not_before, _now() - timedelta(days=1))
    end = _when(not_after, start + timedelta(days=10 * 365))
    country = csca.certificate.subject.native.get("country_name", "XX")
    return _issue(_name(country, common_name or f"Document Signer {country}"), new_key(key),
                  csca, not_before=start, not_after=end, hash_name=hash, pss=pss,
                  serial=serial, explicit=explicit_curve, authority_key_id=authority_key_id,
                  extensions=[{"extn_id": "key_usage", "critical": True,
                               "extn_value": {"digital_signature"}}])


def make_ml_signer(csca: Signer, *, key: str = "ecdsa-p256",
                   not_before: date | datetime | None = None,
                   not_after: date | datetime | None = None) -> Signer:
    """A master list signer issued by ``csca``, with the ICAO extended key usage."""
    start = _when(not_before, _now() - timedelta(days=1))
    end = _when(not_after, start + timedelta(days=3 * 365))
    country = csca.certificate.subject.native.get("country_name", "XX")
    return _issue(_name(country, f"Master List Signer {country}"), new_key(key), csca,
                  not_before=start, not_after=end, hash_name="sha256", pss=False,
                  serial=None, extensions=[
                      {"extn_id": "key_usage", "critical": True,
                       "extn_value": {"digital_signature"}},
                      {"extn_id": "extended_key_usage", "critical": False,
                       "extn_value": [MASTER_LIST_SIGNING_EKU]}])


# =========================================================================== data groups

def build_dg(number: int, content: bytes) -> bytes:
    """Any data group: its LDS1 tag around ``content`` (the inner TLVs)."""
    return tlv(DG_TAGS[number], content)


def build_dg1(mrz_text: str) -> bytes:
    mrz = "".join(mrz_text.split())
    if len(mrz) not in MRZ_LENGTHS:
        raise ValueError(f"an MRZ has 88, 90 or 72 characters, not {len(mrz)}")
    return build_dg(1, tlv(MRZ_TAG, mrz.encode("ascii")))


def build_dg2(image: bytes, *, width: int | None = None, height: int | None = None) -> bytes:
    """DG2 with one ISO/IEC 19794-5:2005 facial record around a JPEG or JPEG 2000 image."""
    if image.startswith(JPEG_MAGIC):
        data_type = 0
    elif image.startswith(JP2_MAGIC) or image.startswith(J2K_MAGIC):
        data_type = 1
    else:
        raise ValueError("the face image must be JPEG or JPEG 2000")
    if width is None or height is None:
        width, height = _image_size(image)
    image_info = bytes([1, data_type]) + width.to_bytes(2, "big") + height.to_bytes(2, "big") \
        + bytes([1, 2]) + bytes(4)  # full frontal, 24-bit RGB, digital camera, device, quality
    facial = bytes(16) + image_info + image  # no feature points; the rest unspecified
    facial = (4 + len(facial)).to_bytes(4, "big") + facial
    record = b"FAC\x00010\x00" + (14 + len(facial)).to_bytes(4, "big") + (1).to_bytes(2, "big") \
        + facial
    header = tlv(HEADER_TEMPLATE_TAG, tlv(0x80, b"\x01\x01") + tlv(0x81, b"\x02")
                 + tlv(0x82, b"\x00") + tlv(0x87, b"\x01\x01") + tlv(0x88, b"\x00\x08"))
    template = tlv(BIOMETRIC_TEMPLATE_TAG, header + tlv(0x5F2E, record))
    return build_dg(2, tlv(BIOMETRIC_GROUP_TAG, tlv(0x02, b"\x01") + template))


def _image_size(image: bytes) -> tuple[int, int]:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(image)) as im:
            return im.size
    except Exception:  # noqa: BLE001 - the size is informative only
        return 0, 0


# =========================================================================== CMS

def _signed_data(content_type: str, content: bytes, signer: Signer, certificates: list,
                 hash_name: str, pss: bool, sid: str,
                 signing_time: datetime | None) -> cms.ContentInfo:
    attrs = [{"type": "content_type", "values": [content_type]}]
    if signing_time is not None:
        kind = "utc_time" if signing_time.year < 2050 else "general_time"
        attrs.append({"type": "signing_time", "values": [cms.Time({kind: signing_time})]})
    attrs.append({"type": "message_digest", "values": [digest(hash_name, content)]})
    signed_attrs = cms.CMSAttributes(attrs)
    signature = _sign(signer.private_key, signed_attrs.dump(), hash_name, pss)
    if sid == "ski":
        version, identifier = "v3", cms.SignerIdentifier(
            name="subject_key_identifier", value=signer.ski)
    elif sid == "issuer_serial":
        version, identifier = "v1", cms.SignerIdentifier(
            name="issuer_and_serial_number",
            value={"issuer": signer.certificate.issuer,
                   "serial_number": signer.certificate.serial_number})
    else:
        raise ValueError("sid must be 'issuer_serial' or 'ski'")
    info = cms.SignerInfo({
        "version": version, "sid": identifier, "digest_algorithm": {"algorithm": hash_name},
        "signed_attrs": signed_attrs,
        "signature_algorithm": _signature_algorithm(signer.private_key, hash_name, pss),
        "signature": signature})
    signed = {"version": "v3", "digest_algorithms": [{"algorithm": hash_name}],
              "encap_content_info": {"content_type": content_type, "content": content},
              "signer_infos": [info]}
    if certificates:
        signed["certificates"] = certificates
    return cms.ContentInfo({"content_type": "signed_data",
                            "content": cms.SignedData(signed)})


def build_sod(dgs: Mapping[int, bytes], dsc: Signer, hash: str = "sha256", *,
              signature_hash: str | None = None, pss: bool = False, sid: str = "issuer_serial",
              include_certificate: bool = True, lds_version: str | None = None,
              signing_time: datetime | None = None) -> bytes:
    """EF.SOD over ``dgs`` (number -> the data group's bytes), signed by ``dsc``.

    ``hash`` hashes the data groups; ``signature_hash`` (default the same) is the CMS digest
    and signature hash. ``lds_version`` such as ``"0108"`` makes an LDSSecurityObject v1.
    """
    lds: dict = {"version": 0, "hash_algorithm": {"algorithm": hash},
                 "data_group_hash_values": [
                     {"data_group_number": n, "data_group_hash_value": digest(hash, dgs[n])}
                     for n in sorted(dgs)]}
    if lds_version is not None:
        lds["version"] = 1
        lds["lds_version_info"] = {"lds_version": lds_version, "unicode_version": "040000"}
    content = LDSSecurityObject(lds).dump()
    info = _signed_data(LDS_SECURITY_OBJECT_OID, content, dsc,
                        [dsc.certificate] if include_certificate else [],
                        signature_hash or hash, pss, sid, signing_time or _now())
    return tlv(SOD_TAG, info.dump())


def make_master_list(cscas: Iterable[Signer | x509.Certificate], signer: Signer, *,
                     hash: str = "sha256", pss: bool = False) -> bytes:
    """A CSCA master list (DER ContentInfo) of ``cscas``, signed by ``signer``."""
    certs = [c.certificate if isinstance(c, Signer) else c for c in cscas]
    content = CscaMasterList({"version": 0, "cert_list": certs}).dump()
    return _signed_data(CSCA_MASTER_LIST_OID, content, signer, [signer.certificate], hash,
                        pss, "issuer_serial", _now()).dump()
