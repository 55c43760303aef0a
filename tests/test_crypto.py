import pytest

from hawiya.crypto import Cipher, DecryptionError, create_key, load_key


def test_round_trip_and_binding(tmp_path):
    path = tmp_path / "k" / "template.key"
    assert create_key(path) is True
    assert create_key(path) is False  # never overwritten
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    c = Cipher(load_key(path))
    blob = c.encrypt(b"secret template", "template:P1:face")
    assert b"secret" not in blob
    assert c.decrypt(blob, "template:P1:face") == b"secret template"
    with pytest.raises(DecryptionError):  # moved onto another person's row
        c.decrypt(blob, "template:P2:face")
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(DecryptionError):
        c.decrypt(tampered, "template:P1:face")


def test_wrong_key_fails(tmp_path):
    a, b = tmp_path / "a.key", tmp_path / "b.key"
    create_key(a), create_key(b)
    blob = Cipher(load_key(a)).encrypt(b"x" * 10, "ctx")
    with pytest.raises(DecryptionError):
        Cipher(load_key(b)).decrypt(blob, "ctx")
