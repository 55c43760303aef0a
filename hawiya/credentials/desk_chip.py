"""A passport chip at the desk: passive authentication and the chip photo against the
live face.

The chip's EF.SOD and data groups come from any NFC reader as files or base64
(:class:`ChipData`); :mod:`hawiya.credentials.emrtd` verifies them against the CSCA
certificates imported into ``platform.csca_folder``. Its checks join the desk's verdict
prefixed ``chip_``; with a live face, DG2's photo is compared 1:1 with it
(``chip_face_match``) at the face engine's verification threshold.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hawiya.biometrics.capture import Capture
from hawiya.credentials.document_checks import check
from hawiya.errors import HawiyaError, InvalidInput

if TYPE_CHECKING:
    from hawiya.platform import Platform

MAX_CHIP_JSON = 8 * 2**20       # base64 text of an EF.SOD and its data groups


@dataclass(frozen=True)
class ChipData:
    sod: bytes
    data_groups: dict[int, bytes]

    @classmethod
    def load(cls, source: Path | dict) -> ChipData:
        """From a folder of chip files or a mapping of file name → base64 text or bytes."""
        from hawiya.credentials.emrtd import load_chip_files

        if isinstance(source, Path) and not source.is_dir():
            raise InvalidInput(f"no such folder: {source}")
        sod, groups = load_chip_files(source)
        if not sod:
            raise InvalidInput("the chip data has no EF.SOD")
        return cls(sod, groups)

    @classmethod
    def from_json(cls, text: str) -> ChipData:
        try:
            mapping = json.loads(text)
        except ValueError as exc:
            raise InvalidInput(f"chip: not JSON ({exc.msg})") from None
        if not isinstance(mapping, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
            raise InvalidInput('chip: a JSON object of file name → base64 text, e.g. '
                               '{"EF.SOD": "...", "DG1": "..."}')
        return cls.load(mapping)


def csca_store(platform: Platform):
    from hawiya.credentials.emrtd_csca import CscaStore

    return CscaStore(platform.csca_folder)


def chip_mrz_text(chip: ChipData) -> str | None:
    from hawiya.credentials.emrtd_lds import dg1_mrz

    try:
        return dg1_mrz(chip.data_groups[1]) if 1 in chip.data_groups else None
    except ValueError:
        return None


def chip_checks(platform: Platform, chip: ChipData, printed_mrz: list[str] | None, face,
                today: dt.date, checks: list[dict]) -> bool:
    """Append the chip's checks; whether passive authentication passed."""
    from hawiya.credentials.emrtd import passive_authentication

    result = passive_authentication(chip.sod, chip.data_groups, csca_store(platform),
                                    printed_mrz="\n".join(printed_mrz) if printed_mrz
                                    else None, today=today)
    checks.extend({"name": f"chip_{c['name']}", "status": c["status"], "reason": c["reason"]}
                  for c in result.checks)
    checks.append(check("chip_passive_authentication", result.valid,
                        "the chip's data is signed by a trusted issuing state"
                        if result.valid else "the chip's data could not be authenticated"))
    if face is not None:
        if result.face_image is None:
            checks.append(check("chip_face_match", None, "no photo in the chip's DG2"))
        else:
            try:
                from hawiya.identity.matching import compare_captures

                d = compare_captures(platform, Capture("face", result.face_image, "frontal"),
                                     Capture("face", face, "frontal"))
                checks.append(check("chip_face_match", d.match, f"chip photo vs live face: "
                                                                 f"{d.reason}"))
            except HawiyaError as exc:
                checks.append(check("chip_face_match", False, exc.message))
    return result.valid


def import_trust(platform: Platform, data: bytes, *, actor: str) -> dict:
    """Import CSCA certificates, audited: PEM or DER certificates are trusted as given (an
    administrator obtained them out of band); an ICAO master list's certificates are trusted
    only when its signature holds and its signer chains to a CSCA already trusted (import
    your own state's CSCA first), and are otherwise kept as untrusted, with the reasons."""
    from hawiya import audit
    from hawiya.credentials.emrtd_csca import MAX_IMPORT_BYTES, is_master_list

    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput(f"certificate file larger than {MAX_IMPORT_BYTES // 2**20} MiB")
    store = csca_store(platform)
    if is_master_list(data):
        report = store.import_master_list(data)
        result = {"kind": "master list", "trusted": report.trusted,
                  "signature_valid": report.signature_valid,
                  "signer": report.signer_subject, "signer_status": report.signer_status,
                  "certificates": report.certificates, "imported": report.imported,
                  "reasons": list(report.reasons)}
    else:
        added = [e.to_dict() for e in store.add_pem(data)]
        result = {"kind": "certificates", "trusted": True, "signature_valid": None,
                  "signer": None, "signer_status": None, "certificates": len(added),
                  "imported": len(added), "reasons": [],
                  "subjects": [a["subject"] for a in added]}
    with platform.transaction() as session:
        audit.append(session, actor, "csca.import", result["kind"],
                     {k: result[k] for k in ("trusted", "signature_valid", "signer",
                                             "certificates", "imported")})
    return result


def describe(platform: Platform) -> list[dict]:
    return [e.to_dict() for e in csca_store(platform).certificates()]
