"""eMRTD passive authentication: CSCA -> DSC -> SOD chains, data-group hashes, DG1/DG2,
the CSCA store and master lists, chip-file loading, and fuzzing of hostile input."""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from hawiya.credentials import emrtd_build as build
from hawiya.credentials.emrtd import (
    CHECKS,
    MAX_DG_BYTES,
    MAX_SOD_BYTES,
    load_chip_files,
    verify_passive,
)
from hawiya.credentials.emrtd_csca import CscaStore, is_master_list
from hawiya.credentials.emrtd_lds import LDSError, dg1_mrz, dg2_face, tlv
from hawiya.errors import InvalidInput

TODAY = date(2026, 6, 1)
CSCA_FROM, CSCA_TO = date(2020, 1, 1), date(2040, 1, 1)
DSC_FROM, DSC_TO = date(2024, 1, 1), date(2034, 1, 1)
MRZ = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"
       "L898902C36UTO7408122F1204159ZE184226B<<<<<10")
PRINTED = MRZ[:44] + "\n" + MRZ[44:]
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _jpeg(fmt: str = "JPEG") -> bytes:
    img = Image.new("RGB", (48, 64))
    img.putdata([(x * 5 % 256, y * 4 % 256, (x + y) % 256) for y in range(64) for x in range(48)])
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def statuses(result) -> dict[str, str]:
    return {c["name"]: c["status"] for c in result.checks}


@pytest.fixture(scope="module")
def pki():
    """One EC chain and one RSA chain, made once (RSA key generation is slow)."""
    csca = build.make_csca("UTO", "ecdsa-p256", CSCA_FROM, CSCA_TO)
    dsc = build.make_dsc(csca, not_before=DSC_FROM, not_after=DSC_TO)
    rsa_csca = build.make_csca("UTO", "rsa2048", CSCA_FROM, CSCA_TO,
                               common_name="CSCA UTO RSA")
    rsa_dsc = build.make_dsc(rsa_csca, key="rsa2048", not_before=DSC_FROM, not_after=DSC_TO,
                             pss=True)
    return {"csca": csca, "dsc": dsc, "rsa_csca": rsa_csca, "rsa_dsc": rsa_dsc}


@pytest.fixture(scope="module")
def chip(pki):
    jpeg = _jpeg()
    dgs = {1: build.build_dg1(MRZ), 2: build.build_dg2(jpeg),
           14: build.build_dg(14, tlv(0x31, b"\x30\x03\x06\x01\x00"))}
    return {"jpeg": jpeg, "dgs": dgs, "sod": build.build_sod(dgs, pki["dsc"])}


@pytest.fixture(scope="module")
def store(pki, tmp_path_factory):
    s = CscaStore(tmp_path_factory.mktemp("csca"))
    s.add_pem(pki["csca"].pem)
    s.add_pem(pki["rsa_csca"].der)
    return s


def verify(sod, dgs, store, **kw):
    kw.setdefault("today", TODAY)
    return verify_passive(sod, dgs, store, **kw)


# --------------------------------------------------------------------------- valid chains

def test_valid_ec_chain(chip, store):
    r = verify(chip["sod"], chip["dgs"], store, printed_mrz=PRINTED)
    assert r.valid, r.to_dict()
    assert r.reason == "valid"
    assert [c["name"] for c in r.checks] == [*CHECKS, "dg1_hash", "dg2_hash", "dg14_hash",
                                             "dg1_matches_printed_mrz"]
    assert set(statuses(r).values()) == {"pass"}
    assert r.mrz == PRINTED
    assert r.face_image == chip["jpeg"] and r.face_format == "jpeg"
    assert r.hash_algorithm == "sha256" and r.signature_algorithm == "ecdsa-with-SHA256"
    assert r.dsc_subject == "C=UT, O=Hawiya test PKI, CN=Document Signer UT"
    assert r.csca_subject == "C=UT, O=Hawiya test PKI, CN=CSCA UTO"
    assert r.data_groups == [1, 2, 14]
    body = r.to_dict()
    assert json.loads(json.dumps(body)) == body
    assert body["face_image_length"] == len(chip["jpeg"]) and "face_image" not in body


@pytest.mark.parametrize("options, label", [
    ({"pss": True, "sid": "ski"}, "RSASSA-PSS/SHA256"),
    ({"hash": "sha512"}, "sha512WithRSAEncryption"),
    ({"hash": "sha1", "signature_hash": "sha256", "lds_version": "0108"},
     "sha256WithRSAEncryption"),
])
def test_valid_rsa_chain(pki, chip, store, options, label):
    sod = build.build_sod(chip["dgs"], pki["rsa_dsc"], **options)
    r = verify(sod, chip["dgs"], store, printed_mrz=MRZ)
    assert r.valid, r.to_dict()
    assert r.signature_algorithm == label
    assert r.hash_algorithm == options.get("hash", "sha256")
    assert r.csca_subject.endswith("CSCA UTO RSA")
    if "lds_version" in options:
        assert r.lds_version == "0108"


@pytest.mark.parametrize("key, extra", [
    ("ecdsa-p384", {"hash": "sha384"}), ("ecdsa-brainpoolp256r1", {}),
    ("ecdsa-p256", {"explicit_curve": True}), ("ecdsa-p521", {"sid": "ski"})])
def test_valid_other_curves(pki, chip, store, key, extra):
    explicit = extra.pop("explicit_curve", False)
    dsc = build.make_dsc(pki["csca"], key=key, not_before=DSC_FROM, not_after=DSC_TO,
                         explicit_curve=explicit)
    r = verify(build.build_sod(chip["dgs"], dsc, **extra), chip["dgs"], store)
    assert r.valid, r.to_dict()


def test_check_date_can_be_a_datetime(chip, store):
    moment = datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert verify(chip["sod"], chip["dgs"], store, today=moment).valid
    assert verify(chip["sod"], chip["dgs"], store, today=moment.replace(tzinfo=None)).valid


# --------------------------------------------------------------------------- tampering

def test_tampered_dg_fails_its_hash(chip, store):
    dgs = dict(chip["dgs"])
    dgs[1] = build.build_dg1(MRZ.replace("ERIKSSON", "ERIKSSEN"))
    r = verify(chip["sod"], dgs, store, printed_mrz=MRZ)
    s = statuses(r)
    assert not r.valid
    assert s["dg_hashes"] == "fail" and s["dg1_hash"] == "fail" and s["dg2_hash"] == "pass"
    assert "altered" in r.check("dg1_hash")["reason"]
    assert r.mrz is None and r.face_image is not None
    assert s["dg1_matches_printed_mrz"] == "skipped"
    assert r.reason.startswith("dg_hashes:")


def test_tampered_sod_signature(chip, store):
    sod = bytearray(chip["sod"])
    sod[-3] ^= 0x01  # inside the ECDSA signature, the SOD's last element
    r = verify(bytes(sod), chip["dgs"], store)
    s = statuses(r)
    assert s["sod_format"] == "pass" and s["dsc_chain"] == "pass"
    assert s["sod_signature"] == "fail" and not r.valid
    assert r.mrz is None and r.face_image is None  # nothing is trusted without the signature


def test_tampered_lds_security_object(pki, chip, store):
    sod = chip["sod"]
    digest_of_dg1 = build.digest("sha256", chip["dgs"][1])
    forged = sod.replace(digest_of_dg1, build.digest("sha256", b"other"))
    assert forged != sod
    r = verify(forged, chip["dgs"], store)
    assert statuses(r)["sod_signature"] == "fail"
    assert "messageDigest" in r.check("sod_signature")["reason"]


def test_expired_dsc(pki, chip, store):
    dsc = build.make_dsc(pki["csca"], not_before=date(2014, 1, 1), not_after=date(2024, 1, 1))
    r = verify(build.build_sod(chip["dgs"], dsc), chip["dgs"], store)
    s = statuses(r)
    assert s["dsc_not_expired"] == "fail" and not r.valid
    assert "expired on 2024-01-01" in r.check("dsc_not_expired")["reason"]
    assert s["dsc_chain"] == s["sod_signature"] == s["dg_hashes"] == "pass"


def test_dsc_not_yet_valid(pki, chip, store):
    dsc = build.make_dsc(pki["csca"], not_before=date(2027, 1, 1), not_after=date(2037, 1, 1))
    r = verify(build.build_sod(chip["dgs"], dsc), chip["dgs"], store)
    assert statuses(r)["dsc_not_expired"] == "fail"
    assert "not valid before 2027-01-01" in r.check("dsc_not_expired")["reason"]


def test_expired_csca(chip, tmp_path):
    csca = build.make_csca("UTO", "ecdsa-p256", date(2010, 1, 1), date(2025, 1, 1))
    dsc = build.make_dsc(csca, not_before=date(2020, 1, 1), not_after=date(2030, 1, 1))
    store = CscaStore(tmp_path)
    store.add_pem(csca.pem)
    r = verify(build.build_sod(chip["dgs"], dsc), chip["dgs"], store)
    s = statuses(r)
    assert s["csca_not_expired"] == "fail" and s["dsc_not_expired"] == "pass" and not r.valid
    assert "expired on 2025-01-01" in r.check("csca_not_expired")["reason"]


def test_unknown_csca(chip, tmp_path):
    r = verify(chip["sod"], chip["dgs"], CscaStore(tmp_path))
    s = statuses(r)
    assert s["csca_known"] == "fail" and not r.valid
    assert s["dsc_chain"] == "skipped" and s["csca_not_expired"] == "skipped"
    assert s["sod_signature"] == "pass" and s["dg_hashes"] == "pass"  # still diagnosed
    assert "no CSCA named C=UT" in r.check("csca_known")["reason"]


def test_dsc_from_another_csca_with_the_same_name(pki, chip, store):
    impostor = build.make_csca("UTO", "ecdsa-p256", CSCA_FROM, CSCA_TO)
    assert impostor.certificate.subject == pki["csca"].certificate.subject
    dsc = build.make_dsc(impostor, not_before=DSC_FROM, not_after=DSC_TO)
    r = verify(build.build_sod(chip["dgs"], dsc), chip["dgs"], store)
    assert statuses(r)["csca_known"] == "fail"
    assert "none with key id" in r.check("csca_known")["reason"]
    # the same, claiming the genuine CSCA's key id: the signature gives it away
    dsc = build.make_dsc(impostor, not_before=DSC_FROM, not_after=DSC_TO,
                         authority_key_id=pki["csca"].ski)
    r = verify(build.build_sod(chip["dgs"], dsc), chip["dgs"], store)
    s = statuses(r)
    assert s["csca_known"] == "pass" and s["dsc_chain"] == "fail" and not r.valid
    assert "does not verify" in r.check("dsc_chain")["reason"]


def test_dsc_without_signing_key_usage(pki, chip, store):
    csca_as_dsc = pki["csca"]  # keyCertSign only
    r = verify(build.build_sod(chip["dgs"], csca_as_dsc), chip["dgs"], store)
    assert statuses(r)["dsc_chain"] == "fail"
    assert "digitalSignature" in r.check("dsc_chain")["reason"]


# --------------------------------------------------------------------------- corrupt SOD

@pytest.mark.parametrize("mangle, words", [
    (lambda s: s[: len(s) // 2], "runs past"),
    (lambda s: s[:1], "truncated"),
    (lambda s: b"\x30" + s[1:], "outer tag is 0x30"),
    (lambda s: b"", "empty"),
    (lambda s: s + b"\x01\x02", "follow the 0x77"),
    (lambda s: s + b"\x00\x00", None),  # zero padding after the object is tolerated
    (lambda s: b"\x77" * (MAX_SOD_BYTES + 1), "exceeds"),
    (lambda s: s.decode("latin-1"), "must be bytes"),
    (lambda s: None, "must be bytes"),
    (lambda s: bytes(range(256)) * 3, "not well formed"),
    (lambda s: build.tlv(0x77, b"\x30\x03\x02\x01\x00"), "not well formed"),
])
def test_corrupt_sod(chip, store, mangle, words):
    r = verify(mangle(chip["sod"]), chip["dgs"], store)
    if words is None:
        assert r.valid
        return
    assert not r.valid and statuses(r)["sod_format"] == "fail"
    assert words in r.check("sod_format")["reason"]
    assert all(c["status"] == "skipped" for c in r.checks if c["name"] != "sod_format")


def test_sod_without_dsc_or_of_another_kind(pki, chip, store):
    r = verify(build.build_sod(chip["dgs"], pki["dsc"], include_certificate=False),
               chip["dgs"], store)
    assert "Document Signer certificate" in r.check("sod_format")["reason"]
    ml = build.make_master_list([pki["csca"]], pki["dsc"])
    r = verify(build.tlv(0x77, ml), chip["dgs"], store)
    assert "not an LDSSecurityObject" in r.check("sod_format")["reason"]


# --------------------------------------------------------------------------- data groups

def test_corrupt_and_odd_data_groups(chip, store):
    dgs = chip["dgs"]
    cases = [
        ({**dgs, 1: b"\x61\x03garbage"}, "dg1_hash", "altered"),
        ({**dgs, 2: "not bytes"}, "dg2_hash", "must be bytes"),
        ({**dgs, 1: b"\x61" * (MAX_DG_BYTES + 1)}, "dg1_hash", "exceeds"),
        ({**dgs, 3: b"\x63\x00"}, "dg3_hash", "does not list it"),
        ({**dgs, "DG1": dgs[1]}, "dg_hashes", "not a number"),
        ({**dgs, 17: b""}, "dg_hashes", "not a number"),
        ({}, "dg_hashes", "no data group"),
        ([dgs[1]], "dg_hashes", "mapping"),
    ]
    for given_dgs, check, words in cases:
        r = verify(chip["sod"], given_dgs, store)
        assert not r.valid, check
        assert r.check(check)["status"] == "fail" and words in r.check(check)["reason"], check
        assert r.check("dg_hashes")["status"] == "fail"


def test_listed_but_unread_group_is_skipped(chip, store):
    r = verify(chip["sod"], {1: chip["dgs"][1], 2: chip["dgs"][2]}, store)
    assert r.valid
    assert r.check("dg14_hash")["status"] == "skipped"
    assert "not read" in r.check("dg14_hash")["reason"]


def test_printed_mrz_comparison(chip, store):
    ok = verify(chip["sod"], chip["dgs"], store, printed_mrz="  " + MRZ[:44] + " \r\n" +
                MRZ[44:].lower() + "\n")
    assert ok.valid and ok.check("dg1_matches_printed_mrz")["status"] == "pass"
    other = MRZ[:44] + MRZ[44:].replace("L898902C3", "L898902C4")
    r = verify(chip["sod"], chip["dgs"], store, printed_mrz=other)
    assert not r.valid and r.check("dg1_matches_printed_mrz")["status"] == "fail"
    assert "line 2, position 9" in r.check("dg1_matches_printed_mrz")["reason"]
    r = verify(chip["sod"], chip["dgs"], store, printed_mrz=MRZ[:60])
    assert "characters" in r.check("dg1_matches_printed_mrz")["reason"]
    r = verify(chip["sod"], chip["dgs"], store, printed_mrz=123)
    assert r.check("dg1_matches_printed_mrz")["status"] == "fail"
    r = verify(chip["sod"], {2: chip["dgs"][2]}, store, printed_mrz=MRZ)
    assert "DG1 was not read" in r.check("dg1_matches_printed_mrz")["reason"]


def test_dg1_and_dg2_parsing():
    td1 = ("I<UTOD231458907<<<<<<<<<<<<<<<7408122F1204159UTO<<<<<<<<<<<6"
           "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")
    assert dg1_mrz(build.build_dg1(td1)).split("\n") == [td1[:30], td1[30:60], td1[60:]]
    for bad in (b"", b"\x61\x00", b"\x61\x05\x5f\x1f\x02AB", b"\x75\x00",
                tlv(0x61, tlv(0x5F1F, b"a" * 88))):
        with pytest.raises(LDSError):
            dg1_mrz(bad)
    with pytest.raises(ValueError):
        build.build_dg1("TOO SHORT")
    for bad in (b"", b"\x75\x00", tlv(0x75, tlv(0x7F61, b"")),
                tlv(0x75, tlv(0x7F61, tlv(0x7F60, tlv(0x5F2E, b"FAC\x00010\x00" + bytes(40)))))):
        with pytest.raises(LDSError):
            dg2_face(bad)


@pytest.mark.parametrize("fmt, expected", [("JPEG", "jpeg"), ("JPEG2000", "jpeg2000")])
def test_dg2_face_round_trip(pki, store, fmt, expected):
    image = _jpeg(fmt)
    dg2 = build.build_dg2(image)
    assert dg2_face(dg2) == (image, expected)
    dgs = {1: build.build_dg1(MRZ), 2: dg2}
    r = verify(build.build_sod(dgs, pki["dsc"]), dgs, store)
    assert r.valid and r.face_image == image and r.face_format == expected
    with Image.open(io.BytesIO(r.face_image)) as im:
        assert im.size == (48, 64)


def test_dg2_found_by_magic_in_other_records():
    """ISO 39794-5 (7F2E) or 19794-5:2011 records: the image is found by its magic."""
    image = _jpeg()
    blob = tlv(0xA1, b"\x30\x02\x80\x00") + tlv(0x82, image)
    dg2 = tlv(0x75, tlv(0x7F61, tlv(0x02, b"\x01") + tlv(0x7F60, tlv(0xA1, tlv(0x87, b"\x01\x01"))
                                                         + tlv(0x7F2E, blob))))
    assert dg2_face(dg2) == (image, "jpeg")


def test_undecodable_face_is_a_note_not_a_crash(pki, store):
    dg2 = tlv(0x75, tlv(0x7F61, tlv(0x02, b"\x01") + tlv(0x7F60, tlv(0x5F2E, b"no image"))))
    dgs = {1: build.build_dg1(MRZ), 2: dg2}
    r = verify(build.build_sod(dgs, pki["dsc"]), dgs, store)
    assert r.valid and r.face_image is None and r.notes and r.notes[0].startswith("DG2")


# --------------------------------------------------------------------------- CSCA store

def test_pem_import_and_lookup(pki, tmp_path):
    store = CscaStore(tmp_path)
    bundle = pki["csca"].pem + b"\n" + pki["rsa_csca"].pem
    entries = store.add_pem(bundle.decode())
    assert len(entries) == 2 and all(e.trusted and e.source == "pem" for e in entries)
    assert len(list(tmp_path.glob("*.pem"))) == 2
    assert store.add_pem(pki["csca"].der)[0].fingerprint == entries[0].fingerprint
    subject = pki["csca"].certificate.subject
    assert [e.ski for e in store.find(subject=subject)] == [pki["csca"].ski]
    assert store.find(ski=pki["rsa_csca"].ski)[0].subject.endswith("CSCA UTO RSA")
    assert store.find(subject="c=UT, O=Hawiya test PKI, CN=CSCA UTO")
    assert store.find(subject=subject, ski=b"nope") == []
    again = CscaStore(tmp_path)  # a new process sees the same folder
    assert len(again) == 2 and not again.problems
    assert {e["subject"] for e in (x.to_dict() for x in again.certificates())} == \
        {"C=UT, O=Hawiya test PKI, CN=CSCA UTO", "C=UT, O=Hawiya test PKI, CN=CSCA UTO RSA"}
    (tmp_path / "broken.pem").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n"
                                         "-----END CERTIFICATE-----\n")
    (tmp_path / "by_hand.pem").write_bytes(build.make_csca("UTQ").pem)
    (tmp_path / "not_a_ca.pem").write_bytes(pki["dsc"].pem)
    again.reload()
    assert len(again) == 3 and [p.split(":")[0] for p in again.problems] == \
        ["broken.pem", "not_a_ca.pem"]
    assert again.find(subject="C=UT, O=Hawiya test PKI, CN=CSCA UTQ")[0].trusted
    for bad in (b"garbage", "", pki["dsc"].pem, 42):
        with pytest.raises(InvalidInput):
            store.add_pem(bad)


def test_master_list_import(pki, chip, tmp_path):
    home = build.make_csca("HWY", not_before=CSCA_FROM, not_after=CSCA_TO)
    signer = build.make_ml_signer(home)
    ml = build.make_master_list([pki["csca"], pki["rsa_csca"], home], signer)
    # the signer chains to a CSCA already trusted: everything is trusted
    store = CscaStore(tmp_path / "a")
    store.add_pem(home.pem)
    report = store.import_master_list(ml, today=datetime.now())  # naive means UTC
    assert report.signature_valid and report.signer_status == "trusted" and report.trusted
    assert report.certificates == 3 and report.imported == 2 and not report.reasons
    assert {a["subject"] for a in report.added} == {
        "C=UT, O=Hawiya test PKI, CN=CSCA UTO", "C=UT, O=Hawiya test PKI, CN=CSCA UTO RSA"}
    assert is_master_list(ml) and not is_master_list(pki["csca"].der)
    assert not is_master_list(b"") and not is_master_list(None)
    assert json.dumps(report.to_dict())
    assert verify(chip["sod"], chip["dgs"], store).valid
    entry = store.find(subject=pki["csca"].certificate.subject)[0]
    assert entry.source == "master_list" and "signed by" in entry.note
    # a list whose signer chains only to a CSCA inside it: imported, untrusted
    store = CscaStore(tmp_path / "b")
    report = store.import_master_list(ml)
    assert report.signature_valid and report.signer_status == "self_consistent"
    assert not report.trusted and report.imported == 3
    assert all(not e.trusted for e in store.certificates())
    r = verify(chip["sod"], chip["dgs"], store)
    assert statuses(r)["csca_known"] == "fail" and "not trusted" in r.check("csca_known")["reason"]
    assert not CscaStore(tmp_path / "b").certificates()[0].trusted  # the flag is on disk
    store.add_pem(pki["csca"].pem)  # trusting it explicitly upgrades the entry
    assert verify(chip["sod"], chip["dgs"], store).valid


def test_master_list_with_bad_signature(pki, tmp_path):
    home = build.make_csca("HWY", not_before=CSCA_FROM, not_after=CSCA_TO)
    ml = bytearray(build.make_master_list([pki["csca"]], build.make_ml_signer(home)))
    ml[-3] ^= 0x01
    store = CscaStore(tmp_path)
    store.add_pem(home.pem)
    report = store.import_master_list(bytes(ml))
    assert not report.signature_valid and not report.trusted and report.imported == 1
    assert any(r.startswith("signature:") for r in report.reasons)
    entry = store.find(subject=pki["csca"].certificate.subject)[0]
    assert not entry.trusted and "not verified" in entry.note
    # a signer no trusted CSCA vouches for
    other = build.make_csca("ZZZ")
    report = store.import_master_list(
        build.make_master_list([pki["csca"]], build.make_ml_signer(other)))
    assert report.signature_valid and report.signer_status == "unknown" and not report.trusted
    for bad in (b"", b"\x30\x00", pki["csca"].der, build.tlv(0x77, b"x"), "text"):
        with pytest.raises(InvalidInput):
            store.import_master_list(bad)


# --------------------------------------------------------------------------- loading

def test_load_chip_files_from_a_folder(chip, store, tmp_path):
    (tmp_path / "EF_SOD.bin").write_bytes(chip["sod"])
    (tmp_path / "DG1.bin").write_bytes(chip["dgs"][1])
    (tmp_path / "EF_DG2.bin").write_bytes(chip["dgs"][2])
    (tmp_path / "ef.dg14").write_bytes(chip["dgs"][14])
    (tmp_path / "EF.COM").write_bytes(b"\x60\x00")
    (tmp_path / "notes.txt").write_text("ignored")
    sod, dgs = load_chip_files(tmp_path)
    assert sod == chip["sod"] and dgs == chip["dgs"]
    assert verify(sod, dgs, store).valid
    (tmp_path / "DG01").write_bytes(chip["dgs"][1])
    with pytest.raises(InvalidInput, match="two files for DG1"):
        load_chip_files(str(tmp_path))
    with pytest.raises(InvalidInput, match="not a folder"):
        load_chip_files(tmp_path / "missing")


def test_load_chip_files_from_base64(chip, store):
    b64 = {k: base64.b64encode(v).decode() for k, v in chip["dgs"].items()}
    sod_text = base64.b64encode(chip["sod"]).decode()
    mapping = {"EF.SOD": "\n".join(sod_text[i:i + 64] for i in range(0, len(sod_text), 64)),
               "DG1": b64[1], 2: chip["dgs"][2],  # raw bytes are accepted as they are
               "EF_DG14.bin": base64.urlsafe_b64encode(chip["dgs"][14]).rstrip(b"="),
               "COM": "ignored"}
    sod, dgs = load_chip_files(mapping)
    assert sod == chip["sod"] and dgs == chip["dgs"]
    assert verify(sod, dgs, store).valid
    for bad, words in (({"SOD": "@@@not base64"}, "not valid base64"),
                       ({"DG1": b64[1]}, "no EF.SOD"),
                       ({"SOD": 12}, "expected base64"),
                       ({"SOD": b64[1], "EF_SOD": b64[1]}, "two files")):
        with pytest.raises(InvalidInput, match=words):
            load_chip_files(bad)
    with pytest.raises(InvalidInput):
        load_chip_files(42)


# --------------------------------------------------------------------------- fuzzing

@FUZZ
@given(st.one_of(st.binary(max_size=600),
                 st.binary(max_size=600).map(lambda b: b"\x77\x82" + b),
                 st.binary(max_size=300).map(lambda b: build.tlv(0x77, build.tlv(0x30, b)))))
def test_fuzz_random_sod_never_raises(store, data):
    r = verify_passive(data, {1: data}, store, printed_mrz="x", today=TODAY)
    assert not r.valid
    assert r.check("sod_format")["status"] == "fail"


@FUZZ
@given(st.data())
def test_fuzz_mutated_sod_never_raises(chip, store, data):
    sod = bytearray(chip["sod"])
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(sod) - 1))
        if data.draw(st.booleans()):
            sod[at] = data.draw(st.integers(0, 255))
        else:
            del sod[at:at + data.draw(st.integers(1, 16))]
    r = verify_passive(bytes(sod), chip["dgs"], store, today=TODAY)
    assert json.dumps(r.to_dict())


@FUZZ
@given(st.binary(max_size=400))
def test_fuzz_data_groups_never_raise(chip, store, blob):
    r = verify_passive(chip["sod"], {1: blob, 2: blob}, store, today=TODAY)
    assert not r.valid
    for parse in (dg1_mrz, dg2_face):
        try:
            parse(blob)
        except LDSError:
            pass
