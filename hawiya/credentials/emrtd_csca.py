"""CSCA trust store for eMRTD passive authentication: a folder of PEM files.

Each file holds one Country Signing CA certificate, with a few ``key: value`` lines of
explanatory text above the PEM block (RFC 7468 allows them; OpenSSL ignores them) that say
where it came from and whether it is trusted. A PEM dropped into the folder by hand has no
such lines and counts as trusted: putting it there is the act of trusting it.

Certificates arrive two ways. :meth:`CscaStore.add_pem` takes PEM or DER files obtained out
of band and trusts them. :meth:`CscaStore.import_master_list` takes an ICAO CSCA master list
(Doc 9303 part 12: CMS SignedData, content type id-icao-cscaMasterList, content
``CscaMasterList ::= SEQUENCE { version INTEGER, certList SET OF Certificate }``), checks the
list's signature and its signer's certificate, and imports every CA certificate either way;
they are trusted only when the signature verifies and the signer chains to a CSCA the store
already trusts. A signer that chains only to a CSCA inside the list itself is reported as
``self_consistent``: anyone can make such a list, so its certificates stay untrusted until a
trusted master list or a PEM vouches for them.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from asn1crypto import cms, core, pem, x509

from hawiya.credentials.emrtd_crypto import (
    CryptoError,
    PublicKey,
    certificate_key,
    check_time,
    name_key,
    name_text,
    validity,
    validity_problem,
    verify_certificate,
    verify_signer_info,
)
from hawiya.errors import InvalidInput

MAX_IMPORT_BYTES = 16 * 1024 * 1024  # a whole ICAO master list is about 1 MiB
CSCA_MASTER_LIST_OID = "2.23.136.1.1.2"
MASTER_LIST_SIGNING_EKU = "2.23.136.1.1.3"
SIGNED_DATA_OID = "1.2.840.113549.1.7.2"
_HEADER_LINE = re.compile(r"^(source|trusted|note): ?(.*)$")
_ASN1_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
                RecursionError)


class _CertificateSet(core.SetOf):
    _child_spec = x509.Certificate


class CscaMasterList(core.Sequence):
    _fields = [("version", core.Integer), ("cert_list", _CertificateSet)]


@dataclass(eq=False)
class CscaEntry:
    """One certificate of the store, parsed once."""

    certificate: x509.Certificate
    der: bytes
    trusted: bool
    source: str = "pem"
    note: str = ""
    path: Path | None = None

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.der).hexdigest()

    @property
    def subject(self) -> str:
        return name_text(self.certificate.subject)

    @property
    def ski(self) -> bytes | None:
        return self.certificate.key_identifier

    @property
    def country(self) -> str | None:
        c = self.certificate.subject.native.get("country_name")
        return c if isinstance(c, str) else None

    def key(self) -> PublicKey:
        return certificate_key(self.certificate)

    def to_dict(self) -> dict[str, Any]:
        start, end = validity(self.certificate)
        return {"fingerprint": self.fingerprint, "subject": self.subject,
                "ski": self.ski.hex() if self.ski else None, "country": self.country,
                "not_before": start.isoformat(), "not_after": end.isoformat(),
                "trusted": self.trusted, "source": self.source, "note": self.note,
                "file": self.path.name if self.path else None}


@dataclass
class MasterListImport:
    """What :meth:`CscaStore.import_master_list` found and did."""

    signature_valid: bool
    signer_subject: str | None
    signer_status: str  # trusted | self_consistent | unknown | absent
    trusted: bool       # the list's certificates were stored as trusted
    certificates: int   # CA certificates in the list
    imported: int       # files written (new, or upgraded to trusted)
    reasons: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    added: list[dict[str, Any]] = field(default_factory=list)  # the entries written

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "added": [dict(a) for a in self.added]}


def is_master_list(data: Any) -> bool:
    """Whether ``data`` looks like a CSCA master list (a quick look; never raises)."""
    try:
        info = cms.ContentInfo.load(bytes(data[:MAX_IMPORT_BYTES]))
        return (info["content_type"].dotted == SIGNED_DATA_OID and
                info["content"]["encap_content_info"]["content_type"].dotted
                == CSCA_MASTER_LIST_OID)
    except (*_ASN1_ERRORS, InvalidInput):
        return False


def signer_certificate(signed_data: cms.SignedData,
                       signer: cms.SignerInfo) -> x509.Certificate | None:
    """The certificate of ``signed_data`` that the signer info's ``sid`` names, if any."""
    sid = signer["sid"]
    for choice in signed_data["certificates"] or ():
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "subject_key_identifier":
            if cert.key_identifier == sid.chosen.native:
                return cert
        elif (cert.serial_number == sid.chosen["serial_number"].native
              and name_key(cert.issuer) == name_key(sid.chosen["issuer"])):
            return cert
    return None


def parse_certificates(data: bytes | str) -> list[x509.Certificate]:
    """Every certificate in PEM text (one or more blocks) or one DER certificate."""
    if isinstance(data, str):
        data = data.encode("utf-8", errors="replace")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"expected certificate bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput(f"{len(data)} bytes exceeds the {MAX_IMPORT_BYTES}-byte limit")
    try:
        if pem.detect(data):
            ders = [der for kind, _, der in pem.unarmor(data, multiple=True)
                    if kind in ("CERTIFICATE", "X509 CERTIFICATE")]
        else:
            ders = [data]
        certs = [x509.Certificate.load(der, strict=True) for der in ders]
        for cert in certs:
            _ = name_key(cert.subject), validity(cert), cert.key_identifier
    except _ASN1_ERRORS as exc:
        raise InvalidInput(f"not an X.509 certificate: {_first_line(exc)}") from None
    if not certs:
        raise InvalidInput("no CERTIFICATE block in the PEM text")
    return certs


def csca_problem(cert: x509.Certificate) -> str | None:
    """Why ``cert`` cannot serve as a CSCA (not a CA, unusable key, bad self-signature)."""
    try:
        if not cert.ca:
            return "not a CA certificate (basicConstraints cA is not set)"
        key = certificate_key(cert)
        if cert.self_issued:
            verify_certificate(cert, key)
    except CryptoError as exc:
        return str(exc)
    except _ASN1_ERRORS as exc:
        return f"malformed certificate: {_first_line(exc)}"
    return None


class CscaStore:
    """CSCA certificates kept as PEM files in ``folder``; loaded once, looked up in memory."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.problems: list[str] = []
        self._entries: dict[str, CscaEntry] = {}
        self._by_subject: dict[str, list[CscaEntry]] = {}
        self._by_ski: dict[bytes, list[CscaEntry]] = {}
        self.reload()

    # ------------------------------------------------------------------ reading
    def reload(self) -> None:
        """Read the folder again; unreadable files are listed in ``problems``, not raised."""
        self.problems, self._entries = [], {}
        for path in sorted(self.folder.glob("*.pem")):
            try:
                text = path.read_bytes()
                meta = _read_meta(text)
                certs = parse_certificates(text)
            except (OSError, InvalidInput) as exc:
                self.problems.append(f"{path.name}: {exc}")
                continue
            for cert in certs:
                problem = csca_problem(cert)
                if problem:
                    self.problems.append(f"{path.name}: {name_text(cert.subject)}: {problem}")
                    continue
                entry = CscaEntry(cert, cert.dump(), meta.get("trusted", "yes") != "no",
                                  meta.get("source", "pem"), meta.get("note", ""), path)
                old = self._entries.get(entry.fingerprint)
                if old is None or (entry.trusted and not old.trusted):
                    self._entries[entry.fingerprint] = entry
        self._index()

    def _index(self) -> None:
        self._by_subject, self._by_ski = {}, {}
        for entry in self._entries.values():
            self._by_subject.setdefault(name_key(entry.certificate.subject), []).append(entry)
            if entry.ski:
                self._by_ski.setdefault(entry.ski, []).append(entry)

    def __len__(self) -> int:
        return len(self._entries)

    def certificates(self, *, trusted_only: bool = False) -> list[CscaEntry]:
        entries = [e for e in self._entries.values() if e.trusted or not trusted_only]
        return sorted(entries, key=lambda e: (e.subject, e.fingerprint))

    def find(self, *, subject: x509.Name | str | None = None, ski: bytes | None = None,
             trusted_only: bool = False) -> list[CscaEntry]:
        """Entries whose subject (a Name, compared as RFC 5280 says, or ``C=.., CN=..``
        text) and subject key identifier match every criterion given."""
        if subject is None and ski is None:
            found = list(self._entries.values())
        elif isinstance(subject, x509.Name):
            found = list(self._by_subject.get(name_key(subject), ()))
        elif isinstance(subject, str):
            found = [e for e in self._entries.values()
                     if e.subject.casefold() == subject.casefold()]
        else:
            found = list(self._by_ski.get(ski, ()))
        if ski is not None:
            found = [e for e in found if e.ski == ski]
        if trusted_only:
            found = [e for e in found if e.trusted]
        return sorted(found, key=lambda e: e.fingerprint)

    # ------------------------------------------------------------------ writing
    def add_pem(self, data: bytes | str) -> list[CscaEntry]:
        """Trust the CA certificates in PEM text or a DER file; InvalidInput when none is
        a usable CSCA. Re-adding a certificate known only as untrusted makes it trusted."""
        certs = parse_certificates(data)
        problems = [f"{name_text(c.subject)}: {p}" for c in certs
                    if (p := csca_problem(c)) is not None]
        if problems:
            raise InvalidInput("not usable as CSCA certificates", reasons=problems)
        return [self._store(c, trusted=True, source="pem", note="") for c in certs]

    def import_master_list(self, data: bytes, *,
                           today: date | datetime | None = None) -> MasterListImport:
        """Import an ICAO CSCA master list; see the module docstring for what is trusted.

        Raises InvalidInput only when ``data`` is not a master list at all.
        """
        when = check_time(today)
        signed, content, certs = _parse_master_list(data)
        result = MasterListImport(False, None, "absent", False, 0, 0)
        try:
            self._check_list_signer(signed, content, certs, when, result)
        except _ASN1_ERRORS as exc:
            result.reasons.append(f"malformed signer info or certificate: {_first_line(exc)}")
            result.trusted = False
        note = (f"master list signed by {result.signer_subject}" if result.trusted else
                "master list not verified: " + "; ".join(result.reasons))[:300]
        for cert in certs:
            problem = csca_problem(cert)
            if problem:
                result.skipped.append(f"{name_text(cert.subject)}: {problem}")
                continue
            result.certificates += 1
            before = self._entries.get(hashlib.sha256(cert.dump()).hexdigest())
            entry = self._store(cert, trusted=result.trusted, source="master_list", note=note)
            if before is None or (entry.trusted and not before.trusted):
                result.imported += 1
                result.added.append(entry.to_dict())
        return result

    def _check_list_signer(self, signed: cms.SignedData, content: bytes,
                           certs: list[x509.Certificate], when: date | datetime,
                           result: MasterListImport) -> None:
        signers = list(signed["signer_infos"])
        if len(signers) != 1:
            result.reasons.append(f"{len(signers)} signer infos; one expected")
            return
        signer_cert = signer_certificate(signed, signers[0])
        if signer_cert is None:
            result.reasons.append("the list does not carry its signer's certificate")
            return
        result.signer_subject = name_text(signer_cert.subject)
        try:
            verify_signer_info(signers[0], certificate_key(signer_cert), content,
                               CSCA_MASTER_LIST_OID)
            result.signature_valid = True
        except CryptoError as exc:
            result.reasons.append(f"signature: {exc}")
        result.signer_status = self._signer_status(signer_cert, certs)
        if result.signer_status != "trusted":
            result.reasons.append(f"signer certificate is {result.signer_status}: it does "
                                  "not chain to a CSCA this store trusts")
        late = validity_problem(signer_cert, when, "signer certificate")
        if late:
            result.reasons.append(late)
        eku = signer_cert.extended_key_usage_value
        if eku is not None and MASTER_LIST_SIGNING_EKU not in [p.dotted for p in eku]:
            result.reasons.append("signer certificate lacks the master list signing "
                                  "extended key usage")
        result.trusted = (result.signature_valid and result.signer_status == "trusted"
                          and late is None)

    def _signer_status(self, signer: x509.Certificate, listed: list[x509.Certificate]) -> str:
        for entry in self.find(subject=signer.issuer, trusted_only=True):
            if _signs(entry.certificate, signer):
                return "trusted"
        for cert in listed:
            if name_key(cert.subject) == name_key(signer.issuer) and _signs(cert, signer):
                return "self_consistent"
        return "unknown"

    def _store(self, cert: x509.Certificate, *, trusted: bool, source: str,
               note: str) -> CscaEntry:
        der = cert.dump()
        entry = CscaEntry(cert, der, trusted, source, note)
        old = self._entries.get(entry.fingerprint)
        if old is not None and (old.trusted or not trusted):
            return old  # never downgrade, never rewrite for nothing
        country = re.sub(r"[^A-Za-z]", "", entry.country or "")[:3] or "XX"
        entry.path = old.path if old and old.path else \
            self.folder / f"{country.upper()}_{entry.fingerprint[:16]}.pem"
        header = (f"Hawiya CSCA trust store entry\nsubject: {entry.subject}\n"
                  f"source: {source}\ntrusted: {'yes' if trusted else 'no'}\n"
                  f"note: {' '.join(note.split())}\n")
        _atomic_write(entry.path, header.encode() + pem.armor("CERTIFICATE", der))
        self._entries[entry.fingerprint] = entry
        self._index()
        return entry


def _signs(issuer: x509.Certificate, cert: x509.Certificate) -> bool:
    try:
        verify_certificate(cert, certificate_key(issuer))
    except (CryptoError, *_ASN1_ERRORS):
        return False
    return True


def _parse_master_list(data: bytes) -> tuple[cms.SignedData, bytes, list[x509.Certificate]]:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"a master list is bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput(f"master list of {len(data)} bytes exceeds the "
                           f"{MAX_IMPORT_BYTES}-byte limit")
    try:
        info = cms.ContentInfo.load(data, strict=True)
        if info["content_type"].dotted != SIGNED_DATA_OID:
            raise InvalidInput("not a CMS SignedData object")
        signed = info["content"]
        encap = signed["encap_content_info"]
        kind = encap["content_type"].dotted
        if kind != CSCA_MASTER_LIST_OID:
            raise InvalidInput(f"content type {kind} is not id-icao-cscaMasterList "
                               f"({CSCA_MASTER_LIST_OID})")
        content = encap["content"].native
        if not isinstance(content, bytes):
            raise InvalidInput("the master list has no encapsulated content")
        listed = CscaMasterList.load(content, strict=True)
        certs = list(listed["cert_list"])
        for cert in certs:
            _ = name_key(cert.subject), name_key(cert.issuer), validity(cert)
        for choice in signed["certificates"] or ():
            _ = choice.name, name_key(choice.chosen.issuer)
    except InvalidInput:
        raise
    except _ASN1_ERRORS as exc:
        raise InvalidInput(f"not a well-formed master list: {_first_line(exc)}") from None
    return signed, content, certs


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _read_meta(text: bytes) -> dict[str, str]:
    meta = {}
    for line in text.decode("utf-8", errors="replace").splitlines():
        if line.startswith("-----BEGIN"):
            break
        m = _HEADER_LINE.match(line.strip())
        if m:
            meta[m.group(1)] = m.group(2).strip()
    return meta


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
