"""A foreign passport's chip at the border desk: CSCA import, passive authentication, the
chip photo against the live face, over the service, the API and the CLI."""

import base64
import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from hawiya.cli import app as cli
from hawiya.credentials import desk, desk_chip, mrz
from hawiya.credentials import emrtd_build as build
from hawiya.credentials.desk_chip import ChipData
from hawiya.errors import InvalidInput
from tests.conftest import ADMIN_PW, yale

TODAY = dt.date.today()
MRZ = mrz.build_td3(document_number="12AB34567", issuing_state="FRA", nationality="FRA",
                    date_of_birth="1985-02-03", sex="M", date_of_expiry="2031-05-01",
                    surname="Dupont", given_names="Jean Pierre")


@pytest.fixture(scope="module")
def pki():
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    csca = build.make_csca("FRA", "ecdsa-p256", start, start + dt.timedelta(days=3650))
    dsc = build.make_dsc(csca, not_before=start, not_after=start + dt.timedelta(days=365))
    stranger = build.make_csca("FRA", "ecdsa-p256", start, start + dt.timedelta(days=3650),
                               common_name="CSCA FRA (not imported)")
    return {"csca": csca, "dsc": dsc,
            "stranger_dsc": build.make_dsc(stranger, not_before=start,
                                           not_after=start + dt.timedelta(days=365))}


def _chip(pki, *, dsc="dsc", face=1, tamper=False) -> ChipData:
    dgs = {1: build.build_dg1(MRZ), 2: build.build_dg2(yale(face, "normal").read_bytes())}
    sod = build.build_sod(dgs, pki[dsc])
    if tamper:
        other = mrz.build_td3(document_number="99ZZ99999", issuing_state="FRA",
                              nationality="FRA", date_of_birth="1985-02-03", sex="M",
                              date_of_expiry="2031-05-01", surname="Dupont",
                              given_names="Jean Pierre")
        dgs = {**dgs, 1: build.build_dg1(other)}
    return ChipData(sod, dgs)


def _checks(result):
    return {c["name"]: c for c in result["checks"]}


@pytest.fixture
def trusted(sqlite_platform, pki):
    res = desk_chip.import_trust(sqlite_platform, pki["csca"].pem, actor="admin")
    assert res["trusted"] and res["imported"] == 1
    return sqlite_platform


def test_a_verified_chip_and_a_matching_face(trusted, pki):
    res = desk.border_check(trusted, mrz_text=MRZ, chip=_chip(pki), face=yale(1, "happy"),
                            location="Tripoli Airport", actor="officer")
    assert res["verdict"] == "valid", res["reasons"]
    assert res["assurance"] == "foreign_chip_verified"
    c = _checks(res)
    for name in ("chip_csca_known", "chip_sod_signature", "chip_dg1_hash", "chip_dg2_hash",
                 "chip_dg1_matches_printed_mrz", "chip_passive_authentication",
                 "chip_face_match", "document_not_expired"):
        assert c[name]["status"] == "pass", c[name]


def test_another_face_fails_the_chip_face_match(trusted, pki):
    res = desk.verify_document(trusted, mrz_text=MRZ, chip=_chip(pki), face=yale(2, "normal"),
                               actor="officer")
    assert _checks(res)["chip_face_match"]["status"] == "fail"
    assert res["verdict"] == "invalid"


@pytest.mark.parametrize("kwargs, failing", [
    ({"tamper": True}, "chip_dg1_hash"),
    ({"dsc": "stranger_dsc"}, "chip_csca_known"),
])
def test_a_tampered_or_untrusted_chip_is_refused(trusted, pki, kwargs, failing):
    res = desk.verify_document(trusted, mrz_text=MRZ, chip=_chip(pki, **kwargs),
                               actor="officer")
    assert res["verdict"] == "invalid" and res["assurance"] is None
    assert _checks(res)[failing]["status"] == "fail"
    assert _checks(res)["chip_passive_authentication"]["status"] == "fail"


def test_chip_alone_gives_the_mrz(trusted, pki):
    res = desk.verify_document(trusted, chip=_chip(pki), actor="officer")
    assert res["document_number"] == "12AB34567" and res["issuing_state"] == "FRA"
    assert res["assurance"] == "foreign_chip_verified"


def test_bad_chip_data_is_a_clear_error(trusted, pki, tmp_path):
    with pytest.raises(InvalidInput, match="JSON"):
        ChipData.from_json("{not json")
    with pytest.raises(InvalidInput):
        ChipData.from_json(json.dumps({"EF.SOD": "%%% not base64"}))
    with pytest.raises(InvalidInput, match="SOD"):
        ChipData.load(tmp_path)
    garbage = ChipData(b"\x77\x03\x01\x02\x03", {1: b"\x61\x00"})
    res = desk.verify_document(trusted, mrz_text=MRZ, chip=garbage, actor="officer")
    assert res["verdict"] == "invalid"
    assert _checks(res)["chip_sod_format"]["status"] == "fail"


def test_chip_over_http_and_cli(client, sqlite_platform, pki, tmp_path):
    token = client.post("/auth/token", data={"username": "admin", "password": ADMIN_PW})
    auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
    r = client.post("/csca", headers=auth,
                    files={"file": ("csca.pem", pki["csca"].pem, "application/x-pem-file")})
    assert r.status_code == 200 and r.json()["trusted"], r.text
    assert client.get("/csca", headers=auth).json()["certificates"][0]["country"] == "FR"
    chip = _chip(pki)
    body = {"EF.SOD": base64.b64encode(chip.sod).decode(),
            **{f"DG{n}": base64.b64encode(b).decode() for n, b in chip.data_groups.items()}}
    r = client.post("/border/check", headers=auth,
                    data={"location": "Airport", "mrz": MRZ, "chip": json.dumps(body)})
    assert r.status_code == 200, r.text
    assert r.json()["assurance"] == "foreign_chip_verified"
    r = client.post("/border/check", headers=auth,
                    data={"location": "Airport", "mrz": MRZ, "chip": "[1, 2]"})
    assert r.status_code == 422 and "base64" in r.json()["message"]
    # The CLI reads the chip's files from a folder, as NFC readers write them.
    folder = tmp_path / "chip"
    folder.mkdir()
    (folder / "EF_SOD.bin").write_bytes(chip.sod)
    for n, data in chip.data_groups.items():
        (folder / f"DG{n}.bin").write_bytes(data)
    (tmp_path / "mrz.txt").write_text(MRZ)
    data_dir = str(sqlite_platform.settings.data_dir)
    out = CliRunner().invoke(cli, ["--data-dir", data_dir, "border", "check", "--location",
                                   "Port", "--mrz", str(tmp_path / "mrz.txt"), "--chip",
                                   str(folder), "--json"])
    assert out.exit_code == 0, out.output
    res = json.loads(out.output.strip().splitlines()[-1])
    assert res["verdict"] == "valid" and res["assurance"] == "foreign_chip_verified"
    assert {"verdict", "checks", "alert"} <= set(res)
