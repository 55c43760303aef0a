"""A faiss gallery that takes Templates: the face modality's gallery over embeddings.

Float-vector galleries (:class:`FaissGallery`) work on arrays; the identity service hands
every gallery Templates, so this adapter turns them into vectors with the engine that
made them (which also refuses templates of another algorithm).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from hawiya.search.faiss_gallery import FaissGallery
from hawiya.search.gallery import Hit, IdsLike


class VectorTemplateGallery:
    def __init__(self, engine: Any, index: FaissGallery | None = None):
        self.engine = engine
        self.index = index if index is not None else FaissGallery(engine.dim)

    def __len__(self) -> int:
        return len(self.index)

    def _vectors(self, templates: Sequence) -> np.ndarray:
        return self.engine.vectors(list(templates))

    def add(self, ids: IdsLike, templates: Sequence) -> None:
        if len(templates):
            self.index.add(ids, self._vectors(templates))

    def remove(self, ids: IdsLike) -> int:
        return self.index.remove(ids)

    def search_batch(self, templates: Sequence, k: int, restrict_to: IdsLike | None = None
                     ) -> list[list[Hit]]:
        return self.index.search_batch(self._vectors(templates), k, restrict_to=restrict_to)

    def save(self, path: str | os.PathLike) -> None:
        self.index.save(path)

    @classmethod
    def load(cls, path: str | os.PathLike, engine: Any) -> VectorTemplateGallery:
        return cls(engine, FaissGallery.load(path, expected_dim=engine.dim))
