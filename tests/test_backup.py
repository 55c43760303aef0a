"""Backup and restore: one encrypted archive; a restored registry verifies people 1:1 with
its restored key, keeps its audit chain, and refuses a wrong passphrase or an altered
archive without touching the target."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile

import pytest

from hawiya import backup
from hawiya.app import build_platform
from hawiya.biometrics.capture import Capture
from hawiya.config import load_settings
from hawiya.identity import service
from hawiya.identity.persons import Demographics
from tests.conftest import yale

PASS = "correct horse battery staple"


@pytest.fixture
def archive(sqlite_platform, tmp_path):
    """A registry with one enrolled person, backed up."""
    res = service.enroll(sqlite_platform, demographics=Demographics("Amal Haddad"),
                         captures=[Capture("face", yale(1, "normal"), "frontal")],
                         actor="test")
    assert res.status == "enrolled"
    out = tmp_path / "registry.hwb"
    manifest = backup.create_backup(sqlite_platform.settings, out, PASS)
    return out, manifest, res.person_id


def _flip(path, member: str, offset: int = 100) -> None:
    with tarfile.open(path) as tar:
        at = tar.getmember(member).offset_data + offset
    with open(path, "r+b") as fh:
        fh.seek(at)
        byte = fh.read(1)
        fh.seek(at)
        fh.write(bytes([byte[0] ^ 0x01]))


def test_backup_restore_roundtrip(archive, tmp_path):
    out, manifest, person_id = archive
    assert manifest["database"] == "sqlite" and manifest["template_key_in_archive"]
    counts = manifest["counts"]
    assert counts["persons"] == 1 and counts["templates"] == 1 and counts["audit_records"] >= 1
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert backup.read_manifest(out)["audit_head"] == manifest["audit_head"]
    # Neither the keys nor the names are readable in the archive.
    raw = out.read_bytes()
    assert b"Amal Haddad" not in raw and b"PRIVATE KEY" not in raw

    target = tmp_path / "restored"
    res = backup.restore_backup(out, load_settings(target), PASS)
    v = res["verification"]
    assert v["ok"], v
    assert v["audit"]["ok"] and v["audit"]["head_matches_manifest"]
    assert v["templates"] == {"sampled": 1, "decrypted": 1, "failed": []}
    assert (target / "keys" / "template.key").exists()

    restored = build_platform(load_settings(target))
    try:
        match = service.verify(restored, person_id,
                               [Capture("face", yale(1, "sad"), "frontal")], actor="test")
        assert match.match is True
        from hawiya import audit

        with restored.transaction() as session:
            assert audit.verify_chain(session)["ok"]
    finally:
        restored.close()

    # A non-empty target needs --force; with it, the registry is replaced.
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.restore_backup(out, load_settings(target), PASS)
    res = backup.restore_backup(out, load_settings(target), PASS, force=True)
    assert res["verification"]["ok"] and res["verification"]["counts"] == counts


def test_wrong_passphrase_refused(archive, tmp_path):
    out, _, _ = archive
    target = tmp_path / "restored"
    with pytest.raises(backup.BackupError, match="wrong passphrase"):
        backup.restore_backup(out, load_settings(target), "not the passphrase")
    assert not target.exists()


@pytest.mark.parametrize("member", [backup.DATABASE, backup.KEYS, backup.MANIFEST])
def test_tampered_archive_refused(archive, tmp_path, member):
    out, _, _ = archive
    _flip(out, member, offset=10 if member == backup.MANIFEST else 100)
    target = tmp_path / "restored"
    with pytest.raises(backup.BackupError, match="altered|corrupt"):
        backup.restore_backup(out, load_settings(target), PASS)
    assert not (target / "hawiya.db").exists() and not (target / "keys").exists()


def test_truncated_and_foreign_files_refused(archive, tmp_path):
    out, _, _ = archive
    short = tmp_path / "short.hwb"
    short.write_bytes(out.read_bytes()[:-20000])
    with pytest.raises(backup.BackupError):
        backup.restore_backup(short, load_settings(tmp_path / "a"), PASS)
    junk = tmp_path / "junk.hwb"
    junk.write_text("hello")
    with pytest.raises(backup.BackupError, match="not a Hawiya backup"):
        backup.restore_backup(junk, load_settings(tmp_path / "b"), PASS)
    with pytest.raises(backup.BackupError, match="no such backup file"):
        backup.restore_backup(tmp_path / "missing.hwb", load_settings(tmp_path / "c"), PASS)


def _cli(args, data_dir=None):
    env = dict(os.environ, HAWIYA_ADMIN_PASSWORD="admin-pass-123")
    env.pop("HAWIYA_DATA_DIR", None)
    if data_dir is not None:
        args = [*args, "--data-dir", str(data_dir)]
    return subprocess.run([sys.executable, "-m", "hawiya.cli", *args], capture_output=True,
                          text=True, env=env, timeout=300)


def test_cli_backup_restore(sqlite_platform, tmp_path):
    src = sqlite_platform.settings.data_dir
    passfile = tmp_path / "pass"
    passfile.write_text(PASS + "\n")
    out = tmp_path / "b.hwb"
    p = _cli(["backup", "--out", str(out), "--passphrase-file", str(passfile), "--json"], src)
    assert p.returncode == 0, p.stderr
    made = json.loads(p.stdout.strip().splitlines()[-1])
    assert made["database"] == "sqlite" and made["counts"]["audit_records"] >= 0

    p = _cli(["restore", str(out), "--passphrase-file", str(passfile), "--json"],
             tmp_path / "dst")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.strip().splitlines()[-1])["verification"]["ok"] is True

    wrong = tmp_path / "wrong"
    wrong.write_text("something else entirely\n")
    for args in (["restore", str(out), "--passphrase-file", str(wrong)],
                 ["restore", str(tmp_path / "missing.hwb"), "--passphrase-file", str(passfile)],
                 ["restore", str(out), "--passphrase-file", str(passfile)]):  # not empty
        p = _cli([*args, "--json"], tmp_path / "dst")
        assert p.returncode == 2, p.stderr
        assert "Traceback" not in p.stderr and "error" in json.loads(
            p.stdout.strip().splitlines()[-1])
