"""Keeps each modality's 1:N gallery in step with the registry.

The gallery is derived data: on first use it is loaded from its snapshot when the snapshot's
fingerprint (count, id sum, id square-sum of searchable templates) matches the registry, and
otherwise rebuilt by decrypting the templates. A process that sees another writer's audit
records re-checks the fingerprint before searching, so a CLI enrollment is visible to a
running server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hawiya.biometrics.template import Template
from hawiya.errors import InvalidInput
from hawiya.registry.models import (
    ACTIVE,
    POTENTIAL_DUPLICATE,
    AuditRecord,
    BiometricTemplate,
    Person,
)

if TYPE_CHECKING:
    from hawiya.platform import Platform

SEARCHABLE = (ACTIVE, POTENTIAL_DUPLICATE)
FACE_DIM = 128
GALLERY_MODALITIES = ("face", "iris", "finger")


def _new_gallery(modality: str):
    if modality == "face":
        from hawiya.search.faiss_gallery import FaissGallery

        return FaissGallery(FACE_DIM)
    if modality == "finger":
        from hawiya.search.finger_gallery import FingerGallery

        return FingerGallery()
    from hawiya.biometrics.workers import default_workers
    from hawiya.search.binary_gallery import BinaryGallery

    return BinaryGallery(threads=default_workers())


def _load_snapshot(modality: str, path):
    if modality == "face":
        from hawiya.search.faiss_gallery import FaissGallery

        return FaissGallery.load(path, expected_dim=FACE_DIM)
    if modality == "finger":
        from hawiya.search.finger_gallery import FingerGallery

        return FingerGallery.load(path)
    from hawiya.biometrics.workers import default_workers
    from hawiya.search.binary_gallery import BinaryGallery

    return BinaryGallery.load(path, threads=default_workers())


def add_templates(gallery, modality: str, ids: Sequence[int],
                  templates: Sequence[Template]) -> None:
    """Float galleries take vectors; the iris and finger galleries take templates."""
    if not ids:
        return
    if modality == "face":
        gallery.add(list(ids), np.vstack([t.vector() for t in templates]))
    else:
        gallery.add(list(ids), list(templates))


def search_templates(gallery, modality: str, templates: Sequence[Template], k: int,
                     restrict_to: Sequence[int] | None = None) -> list[list[tuple[int, float]]]:
    if modality == "face":
        return gallery.search_batch(np.vstack([t.vector() for t in templates]), k,
                                    restrict_to=restrict_to)
    return gallery.search_batch(list(templates), k, restrict_to=restrict_to)


def template_context(person_id: str, modality: str) -> str:
    """Associated data binding an encrypted template to its owner."""
    return f"template:{person_id}:{modality}"


def decrypt_template(platform: Platform, row: BiometricTemplate, person_id: str) -> Template:
    return Template.from_bytes(platform.cipher.decrypt(row.encrypted,
                                                       template_context(person_id, row.modality)))


class GalleryManager:
    def __init__(self, platform: Platform):
        self.platform = platform
        self._galleries: dict[str, object] = {}
        self._seen_seq: dict[str, int] = {}
        self._dirty: set[str] = set()
        self._max_tid = 0  # newest template id the in-memory galleries have seen
        self._lock = threading.RLock()

    # -- registry side -------------------------------------------------------
    def _searchable(self, modality: str):
        return (select(BiometricTemplate.id)
                .join(Person, Person.id == BiometricTemplate.person_db_id)
                .where(BiometricTemplate.modality == modality, Person.status.in_(SEARCHABLE)))

    def fingerprint(self, session: Session, modality: str) -> list[int]:
        sub = self._searchable(modality).subquery()
        row = session.execute(select(func.count(sub.c.id), func.coalesce(func.sum(sub.c.id), 0),
                                     func.coalesce(func.sum(sub.c.id * sub.c.id), 0))).one()
        return [int(v) for v in row]

    @staticmethod
    def _newest_template(session: Session) -> int:
        return int(session.scalar(select(func.coalesce(func.max(BiometricTemplate.id), 0))))

    def is_current(self, session: Session) -> bool:
        """No template newer than the galleries know of (an index lookup): checked under the
        enrollment lock, it proves no other process enrolled since the galleries synced."""
        return self._newest_template(session) <= self._max_tid

    @staticmethod
    def _audit_head(session: Session) -> int:
        return int(session.execute(select(func.coalesce(func.max(AuditRecord.seq), 0))).scalar())

    def _load_templates(self, session: Session, modality: str
                        ) -> tuple[list[int], list[Template]]:
        rows = session.execute(
            select(BiometricTemplate, Person.person_id)
            .join(Person, Person.id == BiometricTemplate.person_db_id)
            .where(BiometricTemplate.modality == modality, Person.status.in_(SEARCHABLE))
            .order_by(BiometricTemplate.id)
            .execution_options(yield_per=2000)
        )
        ids, templates = [], []
        for row, pid in rows:
            ids.append(row.id)
            templates.append(decrypt_template(self.platform, row, pid))
        return ids, templates

    # -- gallery side ----------------------------------------------------------
    def _snapshot_paths(self, modality: str):
        d = self.platform.settings.gallery_dir
        return d / f"{modality}.faiss", d / f"{modality}.json"

    def get(self, modality: str = "face"):
        """The modality's gallery, synchronised with the registry."""
        if modality not in GALLERY_MODALITIES:
            raise InvalidInput(f"no gallery for modality {modality!r}")
        with self._lock, self.platform.transaction() as session:
            head = self._audit_head(session)
            newest = self._newest_template(session)
            if modality in self._galleries and self._seen_seq.get(modality) == head:
                return self._galleries[modality]
            fp = self.fingerprint(session, modality)
            gallery = self._galleries.get(modality)
            if gallery is not None and getattr(self, "_fp_" + modality, None) == fp:
                self._seen_seq[modality] = head
                self._max_tid = max(self._max_tid, newest)
                return gallery
            index_path, meta_path = self._snapshot_paths(modality)
            gallery = None
            if index_path.exists() and meta_path.exists():
                try:
                    if json.loads(meta_path.read_text()).get("fingerprint") == fp:
                        gallery = _load_snapshot(modality, index_path)
                except Exception:  # a bad snapshot is only a slower start
                    gallery = None
            if gallery is None:
                gallery = _new_gallery(modality)
                ids, templates = self._load_templates(session, modality)
                add_templates(gallery, modality, ids, templates)
                self._dirty.add(modality)
            self._galleries[modality] = gallery
            setattr(self, "_fp_" + modality, fp)
            self._seen_seq[modality] = head
            self._max_tid = max(self._max_tid, newest)
            return gallery

    def added(self, modality: str, ids: Iterable[int], templates: Sequence[Template],
              head: int) -> None:
        """Record templates this process just committed (keeps the gallery warm)."""
        self._own_write(modality, list(ids), templates, head, sign=+1)

    def removed(self, modality: str, ids: Iterable[int], head: int) -> None:
        """Record templates this process just took out of the searchable set."""
        self._own_write(modality, list(ids), None, head, sign=-1)

    def _own_write(self, modality: str, ids: list[int], templates: Sequence[Template] | None,
                   head: int, sign: int) -> None:
        with self._lock:
            gallery = self._galleries.get(modality)
            if gallery is None:  # nothing loaded yet: the next get() builds it from the registry
                return
            if ids:
                if sign > 0:
                    add_templates(gallery, modality, ids, templates)
                else:
                    gallery.remove(ids)
            old = getattr(self, "_fp_" + modality)
            arr = np.asarray(ids, dtype=object)
            expected = [old[0] + sign * len(ids), old[1] + sign * int(sum(arr)),
                        old[2] + sign * int(sum(arr * arr))]
            with self.platform.transaction() as session:
                actual = self.fingerprint(session, modality)
            if ids and sign > 0:
                self._max_tid = max(self._max_tid, max(ids))
            # Another writer's change slipped in: leave the fingerprint stale so get() reloads.
            setattr(self, "_fp_" + modality, actual if actual == expected else None)
            self._seen_seq[modality] = head if actual == expected else -1
            self._dirty.add(modality)

    def save_all(self) -> None:
        with self._lock:
            for modality in list(self._dirty):
                gallery = self._galleries.get(modality)
                if gallery is None:
                    continue
                index_path, meta_path = self._snapshot_paths(modality)
                index_path.parent.mkdir(parents=True, exist_ok=True)
                gallery.save(index_path)
                tmp = meta_path.with_suffix(".tmp")
                tmp.write_text(json.dumps({"fingerprint": getattr(self, "_fp_" + modality)}))
                tmp.replace(meta_path)
            self._dirty.clear()
