"""The running platform's resources: settings, database, cipher, keys, engines and
galleries, made once and handed to the service functions.

This module sits below the services: it never imports one. The composition root
(:mod:`hawiya.app`) builds a Platform and plugs in what services contribute (the gallery
manager, named search scopes). Engines load lazily, so a command that needs no face model
does not pay for loading one.
"""

from __future__ import annotations

import base64
import threading
from functools import cached_property
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from hawiya.biometrics import modalities
from hawiya.config import Settings, load_settings
from hawiya.crypto import Cipher, create_key, load_key
from hawiya.registry import migrate
from hawiya.registry.db import make_engine, make_session_factory, transaction


class Platform:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or load_settings()
        modalities.validate(self.settings)  # a bad engine or parameter stops start-up here
        self.galleries: Any = None  # set by hawiya.app.build_platform
        self.engine = make_engine(self.settings.database_url)
        self.sessions: sessionmaker[Session] = make_session_factory(self.engine)
        # One enrollment at a time in this process: the dedup search and the commit must not
        # interleave (across processes, the database lock in identity.service does this).
        self.enroll_lock = threading.Lock()

    # -- setup -----------------------------------------------------------------
    def init(self) -> dict:
        """Create the data dir, the template key (once) and the newest schema."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        created = (False if self.settings.template_key is not None  # the key is configured
                   else create_key(self.settings.template_key_path))
        from hawiya.credentials import keys

        for folder in (self.authority_keys, self.issuer_keys):
            if not keys.list_keys(folder):
                keys.create_key(folder, "Ed25519")
        migrate.upgrade(self.engine)
        return {"data_dir": str(self.settings.data_dir), "key_created": created,
                "database": self.engine.url.render_as_string(hide_password=True)}

    def transaction(self):
        return transaction(self.sessions)

    # -- lazily loaded parts ---------------------------------------------------
    @cached_property
    def cipher(self) -> Cipher:
        key = self.settings.template_key
        return Cipher(load_key(self.settings.template_key_path,
                               key.get_secret_value() if key else None))

    @property
    def authority_keys(self):
        """Keys signing the registry's own statements (frozen rolls, reports)."""
        return self.settings.key_dir / "authority"

    @property
    def issuer_keys(self):
        """Keys signing identity credentials and revocation lists."""
        return self.settings.key_dir / "issuer"

    @property
    def csca_folder(self):
        """Trusted CSCA certificates of passport-issuing states (chips' roots of trust)."""
        return self.settings.data_dir / "csca"

    def sign_digest(self, data: bytes) -> tuple[str, str]:
        """Sign with the active authority key: (key id, base64 signature)."""
        from hawiya.credentials import keys

        key = keys.active_key(self.authority_keys)
        return key.kid, base64.b64encode(key.sign(data)).decode()

    def verify_digest(self, key_id: str | None, data: bytes, signature: str | None) -> bool:
        from hawiya.credentials.keys import KeySet

        entry = KeySet.from_folder(self.authority_keys).get(key_id or "")
        if entry is None or not signature:
            return False
        try:
            return entry.verify(base64.b64decode(signature), data)
        except ValueError:
            return False

    def biometric_engine(self, modality: str, purpose: str = "enrol"):
        """The configured engine of a modality (loaded on first use, then shared); probes
        for verification and search use ``purpose="probe"`` (their own quality policy)."""
        return modalities.engine_for(self.settings, modality, purpose)

    def close(self) -> None:
        if self.galleries is not None:
            self.galleries.save_all()
        self.engine.dispose()
