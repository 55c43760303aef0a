"""The command-line contract: --json prints one JSON object as the last line."""

import json
import os
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import YALE, yale


def run(args, data_dir, check=True):
    # CLI sessions (`hawiya login`) live under XDG_CONFIG_HOME: one per test, not ~/.config.
    env = dict(os.environ, HAWIYA_DATA_DIR=str(data_dir), HAWIYA_ADMIN_PASSWORD="admin-pass-123",
               XDG_CONFIG_HOME=str(data_dir.parent / "config"))
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


def audit_rows(data_dir, action):
    with sqlite3.connect(data_dir / "hawiya.db") as db:
        return [(actor, subject, json.loads(details)) for actor, subject, details in db.execute(
            "SELECT actor, subject, details FROM audit_log WHERE action = ? ORDER BY seq",
            (action,))]


def os_user():
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def test_login_acts_as_the_account(tmp_path):
    d = tmp_path / "data"
    run(["init"], d)
    me = f"os:{os_user()}"
    pw = tmp_path / "pw"
    pw.write_text("officer-pass-123\n")
    for name, role in (("officer1", "enrollment_officer"), ("checker1", "verifier")):
        run(["users", "create", name, role, "--password", "officer-pass-123"], d)
    assert {a for a, _, _ in audit_rows(d, "user.create") if a != "bootstrap"} == {me}

    # Not logged in: the OS account acts; --operator is a label after it, not a name.
    who = last_json(run(["whoami", "--json"], d))
    assert who["logged_in"] is False and who["actor"] == me

    # A wrong password is refused and audited like an API log-in.
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    p = run(["login", "officer1", "--password-file", str(wrong), "--json"], d, check=False)
    assert p.returncode == 1 and last_json(p)["error"] == "unauthorized"
    assert audit_rows(d, "auth.login_failed") == [
        ("officer1", "officer1", {"client_address": f"cli:{os_user()}",
                                  "reason": "wrong password"})]
    assert not (tmp_path / "config" / "hawiya" / "sessions").exists() or not any(
        (tmp_path / "config" / "hawiya" / "sessions").iterdir())

    # Logged in: the audit log names the account; the token file is the user's alone.
    res = last_json(run(["login", "officer1", "--password-file", str(pw), "--json"], d))
    assert res["role"] == "enrollment_officer"
    assert os.stat(res["session_file"]).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(res["session_file"])).st_mode & 0o777 == 0o700
    assert audit_rows(d, "auth.login")[-1][0] == "officer1"
    who = last_json(run(["whoami", "--json"], d))
    assert (who["logged_in"], who["username"], who["role"]) == (True, "officer1",
                                                                "enrollment_officer")
    a = last_json(run(["enroll", "--name", "Amal Haddad", "--face", str(yale(1, "normal")),
                       "--json"], d))
    assert audit_rows(d, "person.enroll")[-1][:2] == ("officer1", a["person_id"])
    # ...and only an admin may add an --operator label; officer1 may not act as another.
    p = run(["enroll", "--name", "X", "--face", str(yale(2, "normal")), "--operator", "admin",
             "--json"], d, check=False)
    assert p.returncode == 1 and last_json(p)["error"] == "forbidden"
    # The role is checked as the API checks it.
    p = run(["users", "create", "x-user", "auditor", "--password", "officer-pass-123",
             "--json"], d, check=False)
    assert p.returncode == 1 and last_json(p)["error"] == "forbidden"

    res = last_json(run(["login", "checker1", "--password-file", str(pw), "--json"], d))
    p = run(["enroll", "--name", "Y", "--face", str(yale(2, "normal")), "--json"], d,
            check=False)
    assert p.returncode == 1 and last_json(p)["error"] == "forbidden"
    assert "may not do this" in p.stderr

    # Logging out revokes the token: commands act as the OS account again.
    out = last_json(run(["logout", "--json"], d))
    assert out == {"logged_out": True, "username": "checker1", "actor": me}
    assert not os.path.exists(res["session_file"])
    assert audit_rows(d, "auth.logout")[-1][0] == "checker1"
    assert last_json(run(["whoami", "--json"], d))["logged_in"] is False
    b = last_json(run(["enroll", "--name", "Badr", "--face", str(yale(4, "normal")),
                       "--operator", "desk 3", "--json"], d))
    assert audit_rows(d, "person.enroll")[-1][:2] == (f"{me} [desk 3]", b["person_id"])
    assert last_json(run(["audit", "verify", "--json"], d))["ok"] is True


def test_expired_or_revoked_session_is_an_error(tmp_path):
    d = tmp_path / "data"
    run(["init"], d)
    pw = tmp_path / "pw"
    pw.write_text("admin-pass-123\n")
    res = last_json(run(["login", "admin", "--password-file", str(pw), "--json"], d))
    assert res["role"] == "admin"
    r = last_json(run(["users", "role", "admin", "admin", "--operator", "night shift",
                       "--json"], d))
    assert r["username"] == "admin"
    assert audit_rows(d, "user.role")[-1][0] == "admin [night shift]"
    with sqlite3.connect(d / "hawiya.db") as db:
        db.execute("UPDATE api_tokens SET revoked = 1")
    p = run(["whoami", "--json"], d, check=False)
    assert p.returncode == 1 and last_json(p)["error"] == "unauthorized"
    assert "hawiya login" in p.stderr
    os.chmod(res["session_file"], 0o644)  # others may read it: refused, not used
    p = run(["users", "list", "--json"], d, check=False)
    assert p.returncode == 1 and "0600" in p.stderr.replace("\n", "")
    run(["logout"], d)
    assert last_json(run(["whoami", "--json"], d))["logged_in"] is False


def _self_signed(tmp_path):
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return certfile, keyfile


def test_serve_tls(tmp_path):
    d = tmp_path / "data"
    certfile, keyfile = _self_signed(tmp_path)
    p = run(["serve", "--certfile", str(certfile), "--keyfile", str(tmp_path / "nokey.pem")],
            d, check=False)
    assert p.returncode == 2 and "nokey.pem" in p.stderr and "Traceback" not in p.stderr
    p = run(["serve", "--certfile", str(certfile), "--keyfile", str(certfile)], d, check=False)
    assert p.returncode == 2 and "cannot be used together" in " ".join(p.stderr.split())

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, HAWIYA_DATA_DIR=str(d), HAWIYA_ADMIN_PASSWORD="admin-pass-123")
    server = subprocess.Popen([sys.executable, "-m", "hawiya.cli", "serve", "--port", str(port),
                               "--certfile", str(certfile), "--keyfile", str(keyfile)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    try:
        deadline, body = time.monotonic() + 60, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/openapi.json",
                                            context=ctx, timeout=5) as resp:
                    body = json.loads(resp.read())
                break
            except OSError:
                time.sleep(0.5)
        if body is None:
            if server.poll() is not None:
                pytest.fail(f"serve exited: {server.stderr.read().decode()[-2000:]}")
            pytest.skip("hawiya serve did not start within 60 s")
        assert body["info"]["title"] and "/auth/token" in body["paths"]
        with pytest.raises(OSError):  # plain HTTP on the TLS port is not answered
            urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=5).read()
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def test_election_withdraw(tmp_path):
    d = tmp_path / "data"
    run(["init"], d)
    run(["election", "create", "OOPS", "--name", "Typo", "--date", "2030-01-01"], d)
    p = run(["election", "roll", "freeze", "OOPS", "--json"], d, check=False)
    assert p.returncode != 0 and "empty" in last_json(p)["message"]
    assert last_json(run(["election", "withdraw", "OOPS", "--json"], d))["withdrawn"] is True
    p = run(["election", "withdraw", "OOPS", "--json"], d, check=False)
    assert p.returncode != 0 and last_json(p)["error"] == "not_found"
