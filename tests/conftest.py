"""Shared fixtures: a platform on SQLite and, when HAWIYA_TEST_DATABASE_URL is set (CI
always sets it), the same tests again on a fresh PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hawiya.app import build_platform
from hawiya.config import load_settings

ADMIN_PW = "admin-password-1"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
YALE = SHARED / "face" / "yale"
PG_URL = os.environ.get("HAWIYA_TEST_DATABASE_URL")


def yale(subject: int, condition: str) -> Path:
    path = YALE / f"subject{subject:02d}" / f"subject{subject:02d}.{condition}.jpg"
    if not path.exists():
        pytest.skip("shared Yale face data not available")
    return path


@pytest.fixture
def pg_database():
    """A throw-away PostgreSQL database (created and dropped around one test)."""
    if not PG_URL:
        pytest.skip("HAWIYA_TEST_DATABASE_URL not set")
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"hawiya_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _make_platform(tmp_path: Path, url: str | None) -> object:
    settings = load_settings(tmp_path / "data", url)
    p = build_platform(settings)
    p.init()
    return p


@pytest.fixture(params=["sqlite", "postgresql"])
def platform(request, tmp_path):
    """An initialised platform on each database backend."""
    url = request.getfixturevalue("pg_database") if request.param == "postgresql" else None
    p = _make_platform(tmp_path, url)
    yield p
    p.engine.dispose()


@pytest.fixture
def sqlite_platform(tmp_path):
    p = _make_platform(tmp_path, None)
    yield p
    p.engine.dispose()


CASIA = SHARED / "iris" / "casia1"


def casia(eye: int, session: int, n: int) -> Path:
    path = CASIA / str(eye) / f"{eye:03d}_{session}_{n}.jpg"
    if not path.exists():
        pytest.skip("shared CASIA iris data not available")
    return path


@pytest.fixture
def client(sqlite_platform):
    """The API in-process on SQLite, with the first admin (password ADMIN_PW)."""
    from fastapi.testclient import TestClient

    from hawiya import auth
    from hawiya.api.app import create_app

    with sqlite_platform.transaction() as s:
        auth.bootstrap_admin(s, ADMIN_PW)
    with TestClient(create_app(sqlite_platform)) as c:
        yield c
