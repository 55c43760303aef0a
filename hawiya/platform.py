"""The running platform: settings, database, cipher, engines and galleries, made once.

CLI commands, the API server and tests each build one ``Platform`` and hand it to the
service functions; engines and galleries load lazily so a command that needs no face model
does not pay for loading one.
"""

from __future__ import annotations

import base64
import threading
from functools import cached_property

from sqlalchemy.orm import Session, sessionmaker

from hawiya.config import Settings, load_settings
from hawiya.crypto import Cipher, create_key, load_key
from hawiya.registry import migrate
from hawiya.registry.db import make_engine, make_session_factory, transaction


class Platform:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or load_settings()
        self.engine = make_engine(self.settings.database_url)
        self.sessions: sessionmaker[Session] = make_session_factory(self.engine)
        # One enrollment at a time in this process: the dedup search and the commit must not
        # interleave (across processes, the database lock in identity.service does this).
        self.enroll_lock = threading.Lock()

    # -- setup -----------------------------------------------------------------
    def init(self) -> dict:
        """Create the data dir, the template key (once) and the newest schema."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        created = create_key(self.settings.template_key_path)
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
        return Cipher(load_key(self.settings.template_key_path))

    @property
    def authority_keys(self):
        """Keys signing the registry's own statements (frozen rolls, reports)."""
        return self.settings.key_dir / "authority"

    @property
    def issuer_keys(self):
        """Keys signing identity credentials and revocation lists."""
        return self.settings.key_dir / "issuer"

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

    @cached_property
    def face_engine(self):
        from hawiya.biometrics.face import get_face_engine

        return get_face_engine(self.settings.face_detector)

    @cached_property
    def iris_engine(self):
        from hawiya.biometrics.iris import get_iris_engine

        return get_iris_engine()

    @cached_property
    def finger_engine(self):
        from hawiya.biometrics.finger import get_finger_engine

        return get_finger_engine()

    def biometric_engine(self, modality: str):
        """The engine of a modality (loaded on first use)."""
        if modality == "face":
            return self.face_engine
        if modality == "iris":
            return self.iris_engine
        if modality == "finger":
            return self.finger_engine
        from hawiya.errors import InvalidInput

        raise InvalidInput(f"modality {modality!r} is not supported here")

    @cached_property
    def galleries(self):
        from hawiya.identity.galleries import GalleryManager

        return GalleryManager(self)

    def close(self) -> None:
        if "galleries" in self.__dict__:
            self.galleries.save_all()
        self.engine.dispose()
