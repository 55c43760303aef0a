"""eMRTD passive authentication (ICAO Doc 9303 parts 10-12): is what the chip holds what its
issuing state signed?

Passive authentication proves the data groups read from a passport chip are the issuer's,
unaltered; it does not prove the chip is genuine (that is active or chip authentication) nor
that the holder is the person at the desk (that is the face match, done by the caller on
:attr:`PassiveAuthResult.face_image`).

Checks, in order (each ``pass``, ``fail`` or ``skipped`` with a reason):

1. ``sod_format``: EF.SOD is a 0x77 object around a CMS SignedData whose encapsulated
   content is an LDSSecurityObject (2.23.136.1.1.1) listing data-group hashes, with one
   signer whose certificate, the Document Signer (DSC), the SOD carries.
2. ``csca_known``: the trust store has a trusted CSCA whose subject is the DSC's issuer and,
   when the DSC names one, whose subject key identifier is its authority key identifier.
3. ``csca_not_expired``: that CSCA certificate is valid at the check date.
4. ``dsc_chain``: that CSCA's key signed the DSC, and the DSC's key usage allows signing.
5. ``dsc_not_expired``: the DSC is valid at the check date (expired, or not yet valid).
6. ``sod_signature``: the DSC's key signed the signed attributes, whose contentType and
   messageDigest bind them to the LDSSecurityObject.
7. ``dg_hashes``: every data group read hashes to the value the SOD lists for it; one read
   but not listed fails; reading none fails.
8. ``dg1_hash``, ``dg2_hash``, ...: the same, one per data group listed or read; a group
   listed but not read is ``skipped`` (DG3 and DG4 need terminal authentication).
9. ``dg1_matches_printed_mrz``: DG1's MRZ equals the MRZ printed on the data page, compared
   without whitespace; ``skipped`` when no printed MRZ is given.

``valid`` is true when checks 1-7 pass and none fails. The steps are independent where they
can be (a signature is still checked when the CSCA is unknown) so a refusal shows every
problem. :attr:`PassiveAuthResult.mrz` and ``face_image`` are filled only from data groups
whose hash matched a SOD whose signature verified; trust them only when ``valid``.

:func:`verify_passive` never raises on outside input: a corrupt SOD or data group, an
unknown CSCA or a wrong type becomes a failed check. Inputs are bounded by
:data:`MAX_SOD_BYTES`, :data:`MAX_DG_BYTES` and :data:`MAX_BIOMETRIC_DG_BYTES`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from asn1crypto import cms, x509

from hawiya.credentials.emrtd_crypto import (
    HASHES,
    CryptoError,
    certificate_key,
    check_time,
    digest,
    digest_name,
    name_key,
    name_text,
    validity,
    validity_problem,
    verify_certificate,
    verify_signer_info,
)
from hawiya.credentials.emrtd_csca import CscaEntry, CscaStore, signer_certificate
from hawiya.credentials.emrtd_lds import (
    DG_TAGS,
    MRZ_LENGTHS,
    SOD_TAG,
    LDSError,
    LDSSecurityObject,
    dg1_mrz,
    dg2_face,
    normalise_mrz,
    read_tlv,
)
from hawiya.errors import InvalidInput

__all__ = ["CHECKS", "MAX_BIOMETRIC_DG_BYTES", "MAX_DG_BYTES", "MAX_SOD_BYTES",
           "PassiveAuthResult", "dg_limit", "load_chip_files", "passive_authentication",
           "verify_passive"]

MAX_SOD_BYTES = 64 * 1024
MAX_DG_BYTES = 1024 * 1024
MAX_BIOMETRIC_DG_BYTES = 4 * 1024 * 1024  # DG2 (face) and DG3 (fingerprints)
LDS_SECURITY_OBJECT_OID = "2.23.136.1.1.1"
SIGNED_DATA_OID = "1.2.840.113549.1.7.2"
CHECKS = ("sod_format", "csca_known", "csca_not_expired", "dsc_chain", "dsc_not_expired",
          "sod_signature", "dg_hashes")
_ASN1_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
                RecursionError)
_FILE_NAME = re.compile(r"(?:ef[._ -]?)?(sod|dg0?(\d{1,2}))(?:\.(?:bin|der|ber|dat|raw))?",
                        re.IGNORECASE)


def dg_limit(number: int) -> int:
    """Largest accepted data group ``number``, in bytes."""
    return MAX_BIOMETRIC_DG_BYTES if number in (2, 3) else MAX_DG_BYTES


@dataclass
class PassiveAuthResult:
    """Outcome of :func:`verify_passive`; ``checks`` are dicts ``{name, status, reason}``."""

    valid: bool
    checks: list[dict[str, str]]
    mrz: str | None = None
    face_image: bytes | None = None
    face_format: str | None = None
    dsc_subject: str | None = None
    csca_subject: str | None = None
    hash_algorithm: str | None = None       # of the data-group hashes
    signature_algorithm: str | None = None  # of the SOD's signature
    lds_version: str | None = None
    data_groups: list[int] = field(default_factory=list)  # listed in the SOD
    notes: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        """The first failing check's reason, or ``"valid"``."""
        for c in self.checks:
            if c["status"] == "fail":
                return f"{c['name']}: {c['reason']}"
        for c in self.checks:
            if c["name"] in CHECKS and c["status"] != "pass":
                return f"{c['name']}: {c['reason']}"
        return "valid"

    def check(self, name: str) -> dict[str, str]:
        for c in self.checks:
            if c["name"] == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able; the face image is given by its length, not its bytes."""
        return {"valid": self.valid, "reason": self.reason,
                "checks": [dict(c) for c in self.checks], "mrz": self.mrz,
                "face_format": self.face_format,
                "face_image_length": None if self.face_image is None else len(self.face_image),
                "dsc_subject": self.dsc_subject, "csca_subject": self.csca_subject,
                "hash_algorithm": self.hash_algorithm,
                "signature_algorithm": self.signature_algorithm,
                "lds_version": self.lds_version, "data_groups": list(self.data_groups),
                "notes": list(self.notes)}


class _Checks:
    def __init__(self) -> None:
        self.results: dict[str, dict[str, str]] = {}

    def set(self, name: str, ok: bool | None, reason: str) -> None:
        status = "skipped" if ok is None else "pass" if ok else "fail"
        self.results[name] = {"name": name, "status": status, "reason": reason[:500]}

    def passed(self, name: str) -> bool:
        return self.results.get(name, {}).get("status") == "pass"

    def skip_rest(self, names: tuple[str, ...], reason: str) -> None:
        for n in names:
            if n not in self.results:
                self.set(n, None, reason)


@dataclass
class _SOD:
    signed: cms.SignedData
    signer: cms.SignerInfo
    dsc: x509.Certificate
    content: bytes
    hash_name: str
    hashes: dict[int, bytes]
    lds_version: str | None


def verify_passive(sod: bytes, data_groups: Mapping[int, bytes], store: CscaStore, *,
                   printed_mrz: str | None = None,
                   today: date | datetime | None = None) -> PassiveAuthResult:
    """Passive authentication of a chip read: EF.SOD bytes, ``{number: DG bytes}`` (each the
    whole file, tag included) and the CSCA trust store; see the module docstring.

    ``printed_mrz`` (the data page's MRZ, any line breaks) adds the DG1 comparison;
    ``today`` fixes the check date (a date compares by day; default now, UTC).
    """
    when = check_time(today)
    steps = _Checks()
    result = PassiveAuthResult(valid=False, checks=[])
    parsed = _parse_sod(sod, steps)
    if parsed is not None:
        result.dsc_subject = name_text(parsed.dsc.subject)
        result.hash_algorithm = parsed.hash_name
        result.lds_version = parsed.lds_version
        result.data_groups = sorted(parsed.hashes)
        csca = _check_chain(parsed.dsc, store, when, steps)
        result.csca_subject = csca.subject if csca else None
        late = validity_problem(parsed.dsc, when, "DSC certificate")
        steps.set("dsc_not_expired", late is None,
                  late or f"valid until {validity(parsed.dsc)[1].date().isoformat()}")
        result.signature_algorithm = _check_signature(parsed, steps)
    matched = _check_data_groups(parsed, data_groups, steps)
    if steps.passed("sod_signature"):
        _extract(matched, result)
    _check_printed_mrz(printed_mrz, data_groups, matched, result, steps)
    first = next((c for c in steps.results.values() if c["status"] == "fail"), None)
    steps.skip_rest(CHECKS, f"not checked: {first['name']} failed" if first else "not checked")
    order = list(CHECKS) + sorted((n for n in steps.results if n.startswith("dg")
                                   and n[2:-5].isdigit()), key=lambda n: int(n[2:-5]))
    order.append("dg1_matches_printed_mrz")
    result.checks = [steps.results[n] for n in order if n in steps.results]
    result.valid = all(steps.passed(n) for n in CHECKS) and \
        all(c["status"] != "fail" for c in result.checks)
    return result


passive_authentication = verify_passive  # the name the border desk uses


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


# =========================================================================== SOD

def _parse_sod(sod: Any, steps: _Checks) -> _SOD | None:
    if isinstance(sod, (bytearray, memoryview)):
        sod = bytes(sod)
    problem = None
    if not isinstance(sod, bytes):
        problem = f"EF.SOD must be bytes, not {type(sod).__name__}"
    elif not sod:
        problem = "EF.SOD is empty"
    elif len(sod) > MAX_SOD_BYTES:
        problem = f"EF.SOD of {len(sod)} bytes exceeds the {MAX_SOD_BYTES}-byte limit"
    if problem:
        steps.set("sod_format", False, problem)
        return None
    try:
        parsed = _read_sod(sod)
    except (LDSError, CryptoError, *_ASN1_ERRORS) as exc:
        steps.set("sod_format", False, f"EF.SOD is not well formed: {_first_line(exc)}")
        return None
    steps.set("sod_format", True, f"LDSSecurityObject v{0 if parsed.lds_version is None else 1}"
              f" listing DG{', DG'.join(map(str, sorted(parsed.hashes)))}; signed by "
              f"{name_text(parsed.dsc.subject)}")
    return parsed


def _read_sod(sod: bytes) -> _SOD:
    """The parts of EF.SOD passive authentication needs; raises on any structural fault."""
    tag, start, end = read_tlv(sod)
    if tag != SOD_TAG:
        raise LDSError(f"outer tag is {tag:#x}, expected {SOD_TAG:#x}")
    if sod[end:].strip(b"\x00") and sod[end:].strip(b"\xff"):
        raise LDSError(f"{len(sod) - end} bytes follow the 0x77 object")
    info = cms.ContentInfo.load(sod[start:end], strict=True)
    if info["content_type"].dotted != SIGNED_DATA_OID:
        raise LDSError(f"content type {info['content_type'].dotted} is not SignedData")
    signed = info["content"]
    encap = signed["encap_content_info"]
    if encap["content_type"].dotted != LDS_SECURITY_OBJECT_OID:
        raise LDSError(f"encapsulated content type {encap['content_type'].dotted} is not "
                       f"an LDSSecurityObject ({LDS_SECURITY_OBJECT_OID})")
    content = encap["content"].native
    if not isinstance(content, bytes):
        raise LDSError("no encapsulated LDSSecurityObject")
    lds = LDSSecurityObject.load(content, strict=True)
    version = lds["version"].native
    if version not in (0, 1):
        raise LDSError(f"LDSSecurityObject version {version} is not v0 or v1")
    hash_name = digest_name(lds["hash_algorithm"])
    size = HASHES[hash_name]().digest_size
    hashes: dict[int, bytes] = {}
    for item in lds["data_group_hash_values"]:
        number, value = item["data_group_number"].native, item["data_group_hash_value"].native
        if not 1 <= number <= 16:
            raise LDSError(f"data group number {number} is outside 1-16")
        if number in hashes:
            raise LDSError(f"DG{number} is listed twice")
        if len(value) != size:
            raise LDSError(f"DG{number} hash has {len(value)} bytes; {hash_name} gives {size}")
        hashes[number] = value
    if not hashes:
        raise LDSError("the LDSSecurityObject lists no data group")
    info_v = lds["lds_version_info"]
    lds_version = info_v["lds_version"].native if version == 1 and info_v.native else None
    signers = list(signed["signer_infos"])
    if len(signers) != 1:
        raise LDSError(f"{len(signers)} signer infos; ICAO 9303 expects one")
    dsc = signer_certificate(signed, signers[0])
    if dsc is None:
        raise LDSError("the SOD does not carry the Document Signer certificate its signer "
                       "info names")
    usage = dsc.key_usage_value  # parse now what later steps read, so faults land here
    _ = (name_key(dsc.subject), name_key(dsc.issuer), name_text(dsc.subject),
         name_text(dsc.issuer), validity(dsc), dsc.authority_key_identifier,
         usage.native if usage is not None else None)
    return _SOD(signed, signers[0], dsc, content, hash_name, hashes, lds_version)


def _check_chain(dsc: x509.Certificate, store: CscaStore, when: date | datetime,
                 steps: _Checks) -> CscaEntry | None:
    issuer, aki = name_text(dsc.issuer), dsc.authority_key_identifier
    named = store.find(subject=dsc.issuer)
    trusted = [e for e in named if e.trusted]
    keyed = [e for e in trusted if aki is None or e.ski is None or e.ski == aki]
    if not named:
        others = store.find(ski=aki, trusted_only=True) if aki else []
        steps.set("csca_known", False, f"no CSCA named {issuer} in the trust store" + (
            f"; a trusted CSCA has key id {aki.hex()} but is named {others[0].subject}"
            if others else ""))
    elif not trusted:
        steps.set("csca_known", False, f"the CSCA named {issuer} is not trusted "
                  f"({named[0].note or 'imported untrusted'})")
    elif not keyed:
        steps.set("csca_known", False, f"a CSCA named {issuer} is trusted, but none with "
                  f"key id {aki.hex()} (the DSC's authority key identifier)")
    else:
        steps.set("csca_known", True, f"{issuer}" + (f", key id {aki.hex()}" if aki else ""))
    if not keyed:
        return None
    verified, why = [], ""
    for entry in keyed:
        try:
            verify_certificate(dsc, entry.key())
            verified.append(entry)
        except CryptoError as exc:
            why = str(exc)
        except _ASN1_ERRORS as exc:
            why = f"malformed certificate: {_first_line(exc)}"
    if not verified:
        steps.set("dsc_chain", False, f"the DSC's signature does not verify with the key of "
                  f"any trusted CSCA named {issuer}: {why}")
        steps.set("csca_not_expired", None, "not checked: no trusted CSCA signed the DSC")
        return None
    problems = {e.fingerprint: validity_problem(e.certificate, when, "CSCA certificate")
                for e in verified}
    csca = next((e for e in verified if problems[e.fingerprint] is None), verified[0])
    usage = dsc.key_usage_value
    if usage is not None and "digital_signature" not in usage.native:
        steps.set("dsc_chain", False, "the DSC's key usage does not include digitalSignature")
    else:
        steps.set("dsc_chain", True, f"DSC signed by the CSCA {csca.subject} "
                                     f"({csca.fingerprint[:16]})")
    late = problems[csca.fingerprint]
    steps.set("csca_not_expired", late is None,
              late or f"valid until {validity(csca.certificate)[1].date().isoformat()}")
    return csca


def _check_signature(parsed: _SOD, steps: _Checks) -> str | None:
    try:
        label, hash_name = verify_signer_info(parsed.signer, certificate_key(parsed.dsc),
                                              parsed.content, LDS_SECURITY_OBJECT_OID)
    except CryptoError as exc:
        steps.set("sod_signature", False, str(exc))
        return None
    except _ASN1_ERRORS as exc:
        steps.set("sod_signature", False, f"malformed signer info: {_first_line(exc)}")
        return None
    steps.set("sod_signature", True, f"{label} by the DSC over the LDSSecurityObject "
                                     f"({hash_name} message digest)")
    return label


# =========================================================================== data groups

def _check_data_groups(parsed: _SOD | None, data_groups: Any,
                       steps: _Checks) -> dict[int, bytes]:
    """Hash checks; returns the data groups whose hash matched."""
    if parsed is None:
        steps.set("dg_hashes", None, "not checked: sod_format failed")
        return {}
    if not isinstance(data_groups, Mapping):
        steps.set("dg_hashes", False, "data groups must be a mapping of number to bytes, not "
                  f"{type(data_groups).__name__}")
        return {}
    problems: list[str] = []
    given: dict[int, Any] = {}
    for key, value in data_groups.items():
        if isinstance(key, bool) or not isinstance(key, int) or not 1 <= key <= 16:
            problems.append(f"data group key {key!r:.40} is not a number from 1 to 16")
        else:
            given[key] = value
    matched: dict[int, bytes] = {}
    for number in sorted(set(parsed.hashes) | set(given)):
        name = f"dg{number}_hash"
        if number not in given:
            steps.set(name, None, f"DG{number} is listed in the SOD but was not read")
            continue
        value = given[number]
        if isinstance(value, (bytearray, memoryview)):
            value = bytes(value)
        limit = dg_limit(number)
        if not isinstance(value, bytes):
            why = f"DG{number} must be bytes, not {type(value).__name__}"
        elif len(value) > limit:
            why = f"DG{number} of {len(value)} bytes exceeds the {limit}-byte limit"
        elif number not in parsed.hashes:
            why = f"DG{number} was read but the SOD does not list it"
        elif not hmac.compare_digest(digest(parsed.hash_name, value), parsed.hashes[number]):
            why = (f"DG{number}'s {parsed.hash_name} differs from the SOD's: the data group "
                   "was altered or belongs to another document")
        else:
            matched[number] = value
            steps.set(name, True, f"{parsed.hash_name} matches the SOD")
            continue
        steps.set(name, False, why)
        problems.append(why)
    if problems:
        steps.set("dg_hashes", False, "; ".join(problems[:5]))
    elif not matched:
        steps.set("dg_hashes", False, "no data group was given: nothing to authenticate")
    else:
        steps.set("dg_hashes", True, f"{parsed.hash_name} of DG"
                  f"{', DG'.join(map(str, sorted(matched)))} match the SOD")
    return matched


def _extract(matched: dict[int, bytes], result: PassiveAuthResult) -> None:
    if 1 in matched:
        try:
            result.mrz = dg1_mrz(matched[1])
        except LDSError as exc:
            result.notes.append(f"DG1: {exc}")
    if 2 in matched:
        try:
            result.face_image, result.face_format = dg2_face(matched[2])
        except LDSError as exc:
            result.notes.append(f"DG2: {exc}")


def _check_printed_mrz(printed: Any, data_groups: Any, matched: dict[int, bytes],
                       result: PassiveAuthResult, steps: _Checks) -> None:
    name = "dg1_matches_printed_mrz"
    if printed is None:
        steps.set(name, None, "no printed MRZ given")
    elif not isinstance(printed, str):
        steps.set(name, False, f"the printed MRZ must be text, not {type(printed).__name__}")
    elif result.mrz is not None:
        chip, page = normalise_mrz(result.mrz), normalise_mrz(printed)
        if chip == page:
            steps.set(name, True, "DG1's MRZ equals the printed MRZ")
        elif len(chip) != len(page):
            steps.set(name, False, f"the printed MRZ has {len(page)} characters, DG1's "
                                   f"{len(chip)}")
        else:
            at = next(i for i, (a, b) in enumerate(zip(chip, page, strict=True)) if a != b)
            width = MRZ_LENGTHS[len(chip)]
            steps.set(name, False, f"DG1's MRZ differs from the printed MRZ at line "
                                   f"{at // width + 1}, position {at % width + 1}")
    elif 1 in matched and steps.passed("sod_signature"):
        steps.set(name, False, "DG1 holds no readable MRZ: " + "; ".join(
            n for n in result.notes if n.startswith("DG1")))
    elif isinstance(data_groups, Mapping) and 1 not in data_groups and "sod_format" in \
            steps.results and steps.passed("sod_format"):
        steps.set(name, False, "DG1 was not read, so the chip cannot be tied to the printed "
                               "MRZ")
    else:
        steps.set(name, None, "not checked: DG1 is not authenticated")


# =========================================================================== loading

def load_chip_files(source: str | os.PathLike | Mapping[Any, Any]) -> tuple[bytes, dict]:
    """(EF.SOD bytes, ``{number: DG bytes}``) from a folder or a mapping, as NFC readers
    export them.

    A folder holds files named like ``EF_SOD.bin``, ``SOD``, ``EF.SOD``, ``DG1.bin``,
    ``EF_DG2.bin`` or ``dg14``; other files are ignored, and each file is read only up to
    its size limit plus one byte (so verification reports an oversized one). A mapping goes
    from such names (or DG numbers) to base64 text, or to bytes: raw when they start with the
    file's own tag, base64 otherwise. Raises InvalidInput for bad base64, two files for the
    same group, or no EF.SOD.
    """
    found: dict[int, bytes] = {}  # 0 stands for EF.SOD
    if isinstance(source, Mapping):
        for key, value in source.items():
            number = key if isinstance(key, int) and not isinstance(key, bool) and \
                1 <= key <= 16 else _file_number(str(key))
            if number is not None:
                _put(found, number, _decoded(str(key), number, value))
    elif isinstance(source, (str, os.PathLike)):
        folder = Path(source)
        if not folder.is_dir():
            raise InvalidInput(f"{folder} is not a folder")
        for path in sorted(folder.iterdir()):
            number = _file_number(path.name)
            if number is not None and path.is_file():
                with path.open("rb") as fh:
                    _put(found, number, fh.read(_limit(number) + 1))
    else:
        raise InvalidInput(f"expected a folder or a mapping, not {type(source).__name__}")
    if 0 not in found:
        raise InvalidInput("no EF.SOD among the files (expected a name such as EF_SOD.bin, "
                           "SOD or EF.SOD)")
    sod = found.pop(0)
    return sod, dict(sorted(found.items()))


def _file_number(name: str) -> int | None:
    m = _FILE_NAME.fullmatch(name.strip())
    if m is None:
        return None
    if m.group(1).lower() == "sod":
        return 0
    number = int(m.group(2))
    return number if 1 <= number <= 16 else None


def _limit(number: int) -> int:
    return MAX_SOD_BYTES if number == 0 else dg_limit(number)


def _put(found: dict[int, bytes], number: int, data: bytes) -> None:
    if number in found:
        label = "EF.SOD" if number == 0 else f"DG{number}"
        raise InvalidInput(f"two files for {label}")
    found[number] = data


def _decoded(name: str, number: int, value: Any) -> bytes:
    label = "EF.SOD" if number == 0 else f"DG{number}"
    tag = SOD_TAG if number == 0 else DG_TAGS[number]
    if isinstance(value, (bytearray, memoryview)):
        value = bytes(value)
    if isinstance(value, bytes):
        if value[:1] == bytes([tag]):
            return value
        value = value.decode("ascii", errors="replace")
    if not isinstance(value, str):
        raise InvalidInput(f"{label} ({name}): expected base64 text or bytes, not "
                           f"{type(value).__name__}")
    text = "".join(value.split())
    if len(text) > (_limit(number) + 2) // 3 * 4 + 4:
        raise InvalidInput(f"{label} ({name}): too large (limit {_limit(number)} bytes)")
    if "-" in text or "_" in text:
        text = text.translate(str.maketrans("-_", "+/"))
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{label} ({name}): not valid base64") from None
