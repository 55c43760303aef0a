"""The command-line contract: --json prints one JSON object as the last line."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import YALE, yale


def run(args, data_dir, check=True):
    env = dict(os.environ, HAWIYA_DATA_DIR=str(data_dir), HAWIYA_ADMIN_PASSWORD="admin-pass-123")
    p = subprocess.run([sys.executable, "-m", "hawiya.cli", *args], capture_output=True,
                       text=True, env=env, timeout=300)
    if check:
        assert p.returncode == 0, p.stderr + p.stdout
    return p


def last_json(p):
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_cli_contract(tmp_path):
    d = tmp_path / "data"
    assert last_json(run(["init", "--json"], d))["admin_created"] is True
    a = last_json(run(["enroll", "--name", "Amal Haddad", "--face", str(yale(1, "normal")),
                       "--json"], d))
    assert a["status"] == "enrolled"
    assert set(a) >= {"person_id", "status", "candidates"}
    dup = last_json(run(["enroll", "--name", "Other", "--face", str(yale(1, "happy")),
                         "--json"], d))
    assert dup["status"] == "potential_duplicate"
    assert dup["candidates"][0]["person_id"] == a["person_id"]
    v = last_json(run(["verify", a["person_id"], "--face", str(yale(1, "sad")), "--json"], d))
    assert v["match"] is True and set(v) >= {"match", "score", "threshold"}
    i = last_json(run(["identify", "--face", str(yale(1, "sad")), "--top", "2", "--json"], d))
    assert i["candidates"][0]["person_id"] in (a["person_id"], dup["person_id"])
    audit = last_json(run(["audit", "verify", "--json"], d))
    assert audit["ok"] is True and audit["records"] >= 5 and audit["first_bad"] is None

    bad = run(["verify", "P0123456789ABCDE", "--face", str(yale(1, "sad")), "--json"], d,
              check=False)
    assert bad.returncode != 0 and last_json(bad)["error"] == "not_found"
    assert "Traceback" not in bad.stderr
    notimg = tmp_path / "notes.jpg"
    notimg.write_text("hello")
    bad = run(["enroll", "--name", "X", "--face", str(notimg)], d, check=False)
    assert bad.returncode == 2 and "not a supported image" in bad.stderr


def test_enroll_batch_is_idempotent(tmp_path):
    d = tmp_path / "data"
    run(["init"], d)
    if not YALE.exists():
        pytest.skip("shared Yale face data not available")
    manifest = tmp_path / "m.csv"
    manifest.write_text("name,face,reference_id\n"
                        f"S1,{yale(1, 'normal')},R1\n"
                        f"S2,{yale(2, 'normal')};{yale(2, 'glasses')},R2\n"
                        f"S3,{tmp_path / 'missing.jpg'},R3\n")
    p = run(["enroll-batch", "/", "--manifest", str(manifest), "--json"], d, check=False)
    res = last_json(p)
    assert p.returncode == 1  # the batch ran, one row needs attention
    assert (res["total"], res["enrolled"], res["failed"]) == (3, 2, 1)
    again = last_json(run(["enroll-batch", "/", "--manifest", str(manifest), "--json"], d,
                          check=False))
    assert again["replayed"] == 2 and again["enrolled"] == 0


def test_eval_face_contract(tmp_path):
    if not YALE.exists():
        pytest.skip("shared Yale face data not available")
    manifest = tmp_path / "m.csv"
    rows = ["path,label"] + [f"{yale(s, c)},{s}" for s in (1, 2, 3)
                             for c in ("normal", "happy", "sad")]
    manifest.write_text("\n".join(rows) + "\n")
    res = last_json(run(["eval", "face", "--manifest", str(manifest), "--out",
                         str(tmp_path / "rep"), "--json"], tmp_path / "d"))
    assert set(res) >= {"eer", "fnmr_at_fmr", "genuine", "impostor", "failed_to_enrol"}
    assert set(res["fnmr_at_fmr"]) >= {"0.01", "0.001", "0.0001"}
    assert res["genuine"] == 9 and res["impostor"] == 27
    assert os.path.exists(res["det_plot"])


def test_mrz_parse_and_build_contract(tmp_path):
    env = dict(os.environ)
    specimen = ("I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\n"
                "ERIKSSON<<ANNA<MARIA<<<<<<<<<<\n")
    p = subprocess.run([sys.executable, "-m", "hawiya.cli", "mrz", "parse", "--json"],
                       input=specimen, capture_output=True, text=True, env=env, timeout=60)
    res = last_json(p)
    assert p.returncode == 0 and res["valid"] is True and res["document_type"] == "TD1"
    assert res["fields"]["document_number"] == "D23145890" and res["errors"] == []
    bad = specimen.replace("7408122", "7408123")
    p = subprocess.run([sys.executable, "-m", "hawiya.cli", "mrz", "parse", "--json"],
                       input=bad, capture_output=True, text=True, env=env, timeout=60)
    res = last_json(p)
    assert p.returncode == 1 and res["valid"] is False
    assert {"date_of_birth", "composite"} <= {e["field"] for e in res["errors"]}
    p = subprocess.run([sys.executable, "-m", "hawiya.cli", "mrz", "build", "TD3",
                        "--document-number", "L898902C3", "--issuing-state", "UTO",
                        "--nationality", "UTO", "--date-of-birth", "1974-08-12", "--sex", "F",
                        "--date-of-expiry", "2012-04-15", "--surname", "Eriksson",
                        "--given-names", "Anna Maria", "--optional-data", "ZE184226B",
                        "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert last_json(p)["lines"] == ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
                                     "L898902C36UTO7408122F1204159ZE184226B<<<<<10"]


def test_card_issue_render_verify_and_border(tmp_path):
    d = tmp_path / "data"
    run(["init"], d)
    pid = last_json(run(["enroll", "--name", "Amal Haddad", "--face", str(yale(3, "normal")),
                         "--date-of-birth", "1990-01-02", "--sex", "F", "--json"], d))[
        "person_id"]
    card = last_json(run(["card", "issue", pid, "--json"], d))
    png = tmp_path / "card.png"
    run(["card", "render", card["document_number"], "--out", str(png), "--photo",
         str(yale(3, "normal"))], d)
    res = last_json(run(["card", "verify", "--qr-image", str(png), "--mrz-image", str(png),
                         "--face", str(yale(3, "sad")), "--json"], d))
    assert res["verdict"] == "valid", res["reasons"]
    run(["card", "status", card["document_number"], "lost"], d)
    res = run(["border", "check", "--location", "Port", "--qr", card["qr_text"], "--json"], d,
              check=False)
    assert res.returncode == 1 and last_json(res)["alert"] is True


def test_unwritable_out_is_a_clear_error(tmp_path):
    d = tmp_path / "data"
    run(["init"], d)
    for target in (tmp_path / "no-such-folder" / "crl.cbor", tmp_path):  # missing; a folder
        p = run(["card", "revocation-list", "--out", str(target), "--json"], d, check=False)
        assert p.returncode != 0
        err = last_json(p)
        assert err["error"] == "invalid_input"
        assert err["message"].startswith(f"cannot write {target}: ")
        assert str(target) in p.stderr.replace("\n", "")  # rich wraps long lines
        assert "Traceback" not in p.stderr + p.stdout
