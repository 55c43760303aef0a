"""Keeps each modality's 1:N gallery in step with the registry, one gallery per
(modality, algorithm id), and resolves named search scopes.

A gallery holds only templates made by the engine configured now: templates of another
algorithm are never searched (``hawiya templates status`` counts them, ``reextract``
upgrades them). The gallery is derived data: on first use it is loaded from its snapshot
when the snapshot's fingerprint (count, id sum, id square-sum of searchable templates)
matches the registry, and otherwise rebuilt by decrypting the templates. A process that
sees another writer's audit records re-checks the fingerprint before searching, so a CLI
enrollment is visible to a running server.

Scopes ("election:E1", "station:E1/S3", …) restrict a search to a set of people resolved by
a registered resolver as one SQL query; the resulting template ids are cached per gallery
version, so a polling station's searches do not rebuild id lists per request.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from hawiya.biometrics import modalities
from hawiya.biometrics.template import Template
from hawiya.errors import InvalidInput, NotFound
from hawiya.identity.templates import decrypt_template
from hawiya.registry.models import (
    ACTIVE,
    POTENTIAL_DUPLICATE,
    AuditRecord,
    BiometricTemplate,
    Person,
)

SEARCHABLE = (ACTIVE, POTENTIAL_DUPLICATE)
SCOPE_RE = re.compile(r"^([a-z][a-z0-9_-]{0,31}):(.{1,200})$")



@dataclass(frozen=True)
class SearchSet:
    """What a 1:N search of one modality covers: the template ids it is restricted to
    (None: the whole gallery), and how many people and templates that is."""

    ids: np.ndarray | None
    people: int
    templates: int


# A scope resolver: (session, argument) -> (select of Person.id, cache token or None).
ScopeResolver = Callable[[Session, str], tuple[Select, str | None]]


def _snapshot_context(key: tuple[str, str]) -> str:
    return f"gallery:{key[0]}:{key[1]}"


class GalleryManager:
    def __init__(self, platform: Any):
        self.platform = platform
        self._galleries: dict[tuple[str, str], Any] = {}
        self._fp: dict[tuple[str, str], list[int] | None] = {}
        self._seen_seq: dict[tuple[str, str], int] = {}
        self._version: dict[tuple[str, str], int] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._max_tid = 0  # newest template id the in-memory galleries have seen
        self._lock = threading.RLock()
        self._resolvers: dict[str, ScopeResolver] = {}
        self._scope_cache: dict[tuple, tuple[tuple, SearchSet]] = {}
        self._size_cache: dict[tuple[str, str], tuple[int, SearchSet]] = {}
        self._stale_cache: dict[tuple[str, str], tuple[int, int]] = {}

    # -- keys --------------------------------------------------------------------------
    def key(self, modality: str) -> tuple[str, str]:
        """(modality, algorithm id) of the gallery the configured engine searches."""
        if modality not in modalities.enabled(self.platform.settings):
            raise InvalidInput(f"no gallery for modality {modality!r}")
        return modality, modalities.algorithm_id(self.platform.settings, modality)

    # -- registry side -------------------------------------------------------------------
    @staticmethod
    def _searchable(key: tuple[str, str]) -> Select:
        modality, algorithm = key
        return (select(BiometricTemplate.id)
                .join(Person, Person.id == BiometricTemplate.person_db_id)
                .where(BiometricTemplate.modality == modality,
                       BiometricTemplate.algorithm == algorithm,
                       Person.status.in_(SEARCHABLE)))

    def fingerprint(self, session: Session, key: tuple[str, str]) -> list[int]:
        sub = self._searchable(key).subquery()
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

    def _load_templates(self, session: Session, key: tuple[str, str]
                        ) -> tuple[list[int], list[Template]]:
        modality, algorithm = key
        rows = session.execute(
            select(BiometricTemplate, Person.person_id)
            .join(Person, Person.id == BiometricTemplate.person_db_id)
            .where(BiometricTemplate.modality == modality,
                   BiometricTemplate.algorithm == algorithm, Person.status.in_(SEARCHABLE))
            .order_by(BiometricTemplate.id)
            .execution_options(yield_per=2000)
        )
        ids, templates = [], []
        for row, pid in rows:
            ids.append(row.id)
            templates.append(decrypt_template(self.platform, row, pid))
        return ids, templates

    # -- gallery side ----------------------------------------------------------------------
    def _snapshot_paths(self, key: tuple[str, str]):
        slug = re.sub(r"[^A-Za-z0-9_.+-]", "_", f"{key[0]}-{key[1]}")
        d = self.platform.settings.gallery_dir
        return d / f"{slug}.snapshot", d / f"{slug}.json"

    def _spec_engine(self, modality: str):
        return (modalities.get(modality),
                self.platform.biometric_engine(modality))

    def get(self, modality: str = "face"):
        """The modality's gallery (configured algorithm), synchronised with the registry."""
        key = self.key(modality)
        spec, engine = self._spec_engine(modality)
        with self._lock, self.platform.transaction() as session:
            head = self._audit_head(session)
            newest = self._newest_template(session)
            if key in self._galleries and self._seen_seq.get(key) == head:
                return self._galleries[key]
            fp = self.fingerprint(session, key)
            gallery = self._galleries.get(key)
            if gallery is not None and self._fp.get(key) == fp:
                self._seen_seq[key] = head
                self._max_tid = max(self._max_tid, newest)
                return gallery
            index_path, meta_path = self._snapshot_paths(key)
            gallery = None
            if index_path.exists() and meta_path.exists():
                try:
                    if json.loads(meta_path.read_text()).get("fingerprint") == fp:
                        gallery = self._read_snapshot(spec, engine, key, index_path)
                except Exception:  # a bad snapshot is only a slower start
                    gallery = None
            if gallery is None:
                gallery = spec.new_gallery(engine)
                ids, templates = self._load_templates(session, key)
                if ids:
                    gallery.add(ids, templates)
                self._dirty.add(key)
            self._galleries[key] = gallery
            self._fp[key] = fp
            self._version[key] = self._version.get(key, 0) + 1
            self._seen_seq[key] = head
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
        key = self.key(modality)
        if templates is not None:  # only the configured algorithm's templates are searched
            keep = [i for i, t in enumerate(templates) if t.algorithm_id == key[1]]
            ids, templates = [ids[i] for i in keep], [templates[i] for i in keep]
        with self._lock:
            gallery = self._galleries.get(key)
            if ids and sign > 0:
                self._max_tid = max(self._max_tid, max(ids))
            if gallery is None:  # nothing loaded yet: the next get() builds it from the registry
                return
            if ids:
                if sign > 0:
                    gallery.add(ids, templates)
                else:
                    gallery.remove(ids)
            old = self._fp.get(key) or [0, 0, 0]
            arr = np.asarray(ids, dtype=object)
            expected = [old[0] + sign * len(ids), old[1] + sign * int(sum(arr)),
                        old[2] + sign * int(sum(arr * arr))]
            with self.platform.transaction() as session:
                actual = self.fingerprint(session, key)
            # Another writer's change slipped in: leave the fingerprint stale so get() reloads.
            self._fp[key] = actual if actual == expected else None
            self._seen_seq[key] = head if actual == expected else -1
            self._version[key] = self._version.get(key, 0) + 1
            self._dirty.add(key)

    def save_all(self) -> None:
        with self._lock:
            for key in list(self._dirty):
                gallery = self._galleries.get(key)
                if gallery is None:
                    continue
                index_path, meta_path = self._snapshot_paths(key)
                index_path.parent.mkdir(parents=True, exist_ok=True)
                self._write_snapshot(gallery, key, index_path)
                tmp = meta_path.with_suffix(".tmp")
                tmp.write_text(json.dumps({"fingerprint": self._fp.get(key)}))
                tmp.replace(meta_path)
            self._dirty.clear()

    # Snapshots hold templates (or their vectors): encrypted at rest like the registry's,
    # bound to the gallery's key. The plaintext exists only in a private temporary folder.
    def _write_snapshot(self, gallery, key: tuple[str, str], path) -> None:
        with tempfile.TemporaryDirectory(prefix="hawiya-gallery-") as tmp:
            plain = Path(tmp) / "snapshot"
            gallery.save(plain)
            blob = self.platform.cipher.encrypt(plain.read_bytes(), _snapshot_context(key))
        part = path.with_suffix(".part")
        part.write_bytes(blob)
        os.chmod(part, 0o600)
        part.replace(path)

    def _read_snapshot(self, spec, engine, key: tuple[str, str], path):
        blob = self.platform.cipher.decrypt(path.read_bytes(), _snapshot_context(key))
        with tempfile.TemporaryDirectory(prefix="hawiya-gallery-") as tmp:
            plain = Path(tmp) / "snapshot"
            plain.write_bytes(blob)
            return spec.load_gallery(plain, engine)

    # -- scopes ------------------------------------------------------------------------------
    def register_scope(self, kind: str, resolver: ScopeResolver) -> None:
        """Name a kind of scope ("election", "station", …) and how to find its people."""
        self._resolvers[kind] = resolver

    def scope_kinds(self) -> list[str]:
        return sorted(self._resolvers)

    def scope_people(self, session: Session, scope: str) -> tuple[Select, str | None]:
        m = SCOPE_RE.match(scope or "")
        if not m:
            raise InvalidInput(f"scope must be KIND:NAME (kinds: {', '.join(self.scope_kinds())})")
        kind, arg = m.groups()
        resolver = self._resolvers.get(kind)
        if resolver is None:
            raise InvalidInput(f"unknown scope kind {kind!r} (kinds: "
                               f"{', '.join(self.scope_kinds()) or 'none'})")
        return resolver(session, arg)

    def scope_set(self, session: Session, modality: str, scope: str) -> SearchSet:
        """Templates of ``modality`` (configured algorithm) of the people in ``scope``;
        cached while neither the gallery nor the scope's token changes."""
        key = self.key(modality)
        people, token = self.scope_people(session, scope)
        version = (self._version.get(key, 0), token)
        cached = self._scope_cache.get((scope, key))
        if token is not None and cached is not None and cached[0] == version:
            return cached[1]
        found = self._restricted(session, key, people)
        if token is not None:
            self._scope_cache[(scope, key)] = (version, found)
        return found

    def people_set(self, session: Session, modality: str, person_keys: Sequence[str]
                   ) -> SearchSet:
        """Templates of the listed people (our ids or reference ids), in one query; an
        unknown key is an error naming it."""
        keys = list(dict.fromkeys(person_keys))
        found = session.execute(select(Person.person_id, Person.reference_id).where(
            or_(Person.person_id.in_(keys), Person.reference_id.in_(keys)))).all()
        known = {k for row in found for k in row if k}
        missing = [k for k in keys if k not in known]
        if missing:
            raise NotFound(f"no person with id {missing[0]!r}"
                           + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
        people = select(Person.id).where(or_(Person.person_id.in_(keys),
                                             Person.reference_id.in_(keys)))
        return self._restricted(session, self.key(modality), people)

    def whole_set(self, session: Session, modality: str) -> SearchSet:
        """Everyone searchable in the modality's gallery (sizes cached per version)."""
        key = self.key(modality)
        version = self._version.get(key, 0)
        cached = self._size_cache.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        sub = self._searchable(key).add_columns(BiometricTemplate.person_db_id).subquery()
        templates, people = session.execute(select(
            func.count(sub.c.id), func.count(func.distinct(sub.c.person_db_id)))).one()
        found = SearchSet(None, int(people), int(templates))
        self._size_cache[key] = (version, found)
        return found

    def stale_count(self, session: Session, modality: str, *, exact: bool = True) -> int:
        """Searchable templates of ``modality`` made by another algorithm than the configured
        one: never searched, so a search or a de-duplication would miss their owners.
        ``exact=False`` (a search's informational note) reuses the count made at this
        gallery version instead of scanning the templates again on every search."""
        key = self.key(modality)
        version = self._version.get(key, 0)
        cached = self._stale_cache.get(key)
        if not exact and cached is not None and cached[0] == version:
            return cached[1]
        count = self._count_stale(session, key)
        self._stale_cache[key] = (version, count)
        return count

    @staticmethod
    def _count_stale(session: Session, key: tuple[str, str]) -> int:
        modality, algorithm = key
        return int(session.scalar(
            select(func.count(BiometricTemplate.id))
            .join(Person, Person.id == BiometricTemplate.person_db_id)
            .where(BiometricTemplate.modality == modality,
                   BiometricTemplate.algorithm != algorithm,
                   Person.status.in_(SEARCHABLE))))

    def _restricted(self, session: Session, key: tuple[str, str], people: Select
                    ) -> SearchSet:
        rows = session.execute(self._searchable(key).add_columns(
            BiometricTemplate.person_db_id).where(
            BiometricTemplate.person_db_id.in_(people))).all()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return SearchSet(ids, len({r[1] for r in rows}), len(rows))
