"""1:N over fingerprint minutiae templates: a fixed-length pre-filter, then full matching.

Each template's 768-D index vector ranks the gallery with one matrix-vector product; only the
``shortlist`` best are matched in full by the minutiae matcher, so identification does not
match every pair. The packed matcher arrays grow by concatenation on ``add``; ``remove``
keeps the remaining rows. Same API shape as the other galleries; snapshots keep the
template bytes (the derived arrays are rebuilt on load).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hawiya.biometrics import finger_match as fm
from hawiya.biometrics.finger import FingerEngine, get_finger_engine, subset
from hawiya.biometrics.template import Template
from hawiya.errors import InvalidInput
from hawiya.search.gallery import Hit, check_k

SHORTLIST = 200


def _concat(a: fm.PackedGallery, b: fm.PackedGallery) -> fm.PackedGallery:
    off = np.concatenate([a.off, b.off[1:] + a.off[-1]])
    return fm.PackedGallery(off, *(np.concatenate([getattr(a, f), getattr(b, f)])
                                   for f in ("xy", "th", "q", "feat", "cnt")))


class FingerGallery:
    def __init__(self, engine: FingerEngine | None = None, shortlist: int = SHORTLIST):
        self.engine = engine or get_finger_engine()
        self.shortlist = shortlist
        self._ids = np.zeros(0, np.int64)
        self._templates: list[Template] = []
        self._index = np.zeros((0, 0), np.float32)
        self._packed: fm.PackedGallery | None = None

    def __len__(self) -> int:
        return len(self._templates)

    def add(self, ids: Sequence[int], templates: Sequence[Template]) -> None:
        ids = np.asarray(list(ids), np.int64)
        if len(ids) != len(templates):
            raise InvalidInput("ids and templates differ in length")
        if not len(ids):
            return
        self.remove(ids)  # re-adding an id replaces it
        vecs = self.engine.index_vectors(list(templates))
        packed = self.engine.pack(list(templates))
        self._index = vecs if not len(self._templates) else np.vstack([self._index, vecs])
        self._packed = packed if self._packed is None or not len(self._templates) else \
            _concat(self._packed, packed)
        self._ids = np.concatenate([self._ids, ids])
        self._templates.extend(templates)

    def remove(self, ids: Sequence[int]) -> int:
        drop = np.isin(self._ids, np.asarray(list(ids), np.int64))
        if not drop.any():
            return 0
        keep = np.flatnonzero(~drop)
        self._ids, self._index = self._ids[keep], self._index[keep]
        self._templates = [self._templates[i] for i in keep]
        self._packed = subset(self._packed, keep) if len(keep) else None
        return int(drop.sum())

    def search(self, probe: Template, k: int, restrict_to: Sequence[int] | None = None
               ) -> list[Hit]:
        check_k(k)
        if not self._templates:
            return []
        rows = np.arange(len(self._ids))
        if restrict_to is not None:
            rows = np.flatnonzero(np.isin(self._ids, np.asarray(list(restrict_to), np.int64)))
            if not len(rows):
                return []
        sims = self._index[rows] @ self.engine.index_vector(probe)
        s = min(self.shortlist, len(rows))
        cand = rows[np.argpartition(-sims, s - 1)[:s]] if s < len(rows) else rows
        cand = np.sort(cand)
        scores = self.engine.compare_packed(probe, subset(self._packed, cand))
        order = np.argsort(-scores)[:k]
        return [(int(self._ids[cand[i]]), float(scores[i])) for i in order]

    def search_batch(self, probes: Sequence[Template], k: int,
                     restrict_to: Sequence[int] | None = None) -> list[list[Hit]]:
        return [self.search(p, k, restrict_to) for p in probes]

    def save(self, path: str | os.PathLike) -> None:
        path = Path(path)
        blobs = [t.to_bytes() for t in self._templates]
        lengths = np.array([len(b) for b in blobs], np.int64)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, ids=self._ids, lengths=lengths,
                     data=np.frombuffer(b"".join(blobs), np.uint8))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike, engine: FingerEngine | None = None
             ) -> FingerGallery:
        with np.load(path) as z:
            ids, lengths, data = z["ids"], z["lengths"], z["data"].tobytes()
        ends = np.cumsum(lengths)
        templates = [Template.from_bytes(data[e - n:e]) for n, e in zip(lengths, ends,
                                                                        strict=True)]
        g = cls(engine)
        g.add(ids.tolist(), templates)
        return g
