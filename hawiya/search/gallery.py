"""The gallery protocol (1:N search over enrolled templates) and helpers shared by backends.

A gallery maps registry template ids (int64, non-negative) to fixed-length vectors and
returns the ``k`` most similar ids for a probe, optionally only among a given list of ids
(a "gallery" subset such as a polling station's roll). Scores are similarities: higher is
more alike. Galleries are derived data, always rebuildable from the registry; ``save`` and
``load`` only make start-up fast.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from hawiya.biometrics.template import Template
from hawiya.errors import InvalidInput

Hit = tuple[int, float]
IdsLike = Sequence[int] | np.ndarray


@runtime_checkable
class Gallery(Protocol):
    """What every 1:N search backend offers (exact or approximate, one machine or many)."""

    @property
    def dim(self) -> int: ...

    def add(self, ids: IdsLike, vectors: np.ndarray) -> None:
        """Insert vectors under ``ids``; an id already present is replaced."""

    def remove(self, ids: IdsLike) -> int:
        """Remove ``ids`` (unknown ids are ignored); returns how many were removed."""

    def search(self, vector: np.ndarray, k: int, restrict_to: IdsLike | None = None
               ) -> list[Hit]:
        """Up to ``k`` (id, score) pairs, best first, optionally only among ``restrict_to``."""

    def search_batch(self, vectors: np.ndarray, k: int, restrict_to: IdsLike | None = None
                     ) -> list[list[Hit]]:
        """``search`` for each row of ``vectors``."""

    def __len__(self) -> int: ...

    def save(self, path: str | os.PathLike) -> None:
        """Write a snapshot atomically (a reader never sees a half-written file)."""

    @classmethod
    def load(cls, path: str | os.PathLike) -> Gallery:
        """Read a snapshot written by ``save``."""


def as_ids(ids: IdsLike, *, unique: bool = True) -> np.ndarray:
    """Validated 1-D int64 id array (non-negative; -1 is faiss's "no result")."""
    try:
        arr = np.asarray(ids)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"ids must be integers: {exc}") from exc
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise InvalidInput(f"ids must be one-dimensional, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))):
            raise InvalidInput(f"ids must be integers, got {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and int(arr.min()) < 0:
        raise InvalidInput("ids must be non-negative")
    if unique and arr.size != np.unique(arr).size:
        raise InvalidInput("duplicate ids in one call")
    return np.ascontiguousarray(arr)


def as_unit_vectors(vectors: np.ndarray, dim: int, *, n: int | None = None) -> np.ndarray:
    """(n, dim) float32 C-contiguous copy with unit L2 norm rows; refuses bad input."""
    try:
        x = np.array(vectors, dtype=np.float32, copy=True, order="C")
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"vectors must be numeric: {exc}") from exc
    if x.ndim == 1:
        x = x.reshape(1, -1) if x.size else x.reshape(0, dim)
    if x.ndim != 2 or x.shape[1] != dim:
        raise InvalidInput(f"expected vectors of dimension {dim}, got shape {x.shape}")
    if n is not None and x.shape[0] != n:
        raise InvalidInput(f"{n} ids but {x.shape[0]} vectors")
    if not np.all(np.isfinite(x)):
        raise InvalidInput("vectors contain NaN or infinity")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if x.size and float(norms.min()) <= 1e-12:
        raise InvalidInput("zero vector cannot be normalised")
    x /= norms
    return x


def check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise InvalidInput(f"k must be an integer, got {k!r}")
    if k < 0:
        raise InvalidInput(f"k must be non-negative, got {k}")
    return int(k)


def exact_top_k(queries: np.ndarray, ids: np.ndarray, vectors: np.ndarray, k: int
                ) -> list[list[Hit]]:
    """Exact inner-product top-k of each query among (ids, vectors), best first.

    Ties are broken by the smaller id, so results are deterministic.
    """
    nq = queries.shape[0]
    k = min(k, ids.size)
    if k == 0:
        return [[] for _ in range(nq)]
    scores = queries @ vectors.T  # (nq, m)
    if k < ids.size:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(ids.size), (nq, ids.size))
    top_s = np.take_along_axis(scores, part, axis=1)
    top_i = ids[part]
    order = np.lexsort((top_i, -top_s), axis=1)
    top_s = np.take_along_axis(top_s, order, axis=1)
    top_i = np.take_along_axis(top_i, order, axis=1)
    return [list(zip(r_i.tolist(), r_s.tolist(), strict=True))
            for r_i, r_s in zip(top_i, top_s, strict=True)]


def hits_from_arrays(scores: np.ndarray, labels: np.ndarray) -> list[list[Hit]]:
    """faiss-style (nq, k) arrays to lists of (id, score), dropping -1 padding."""
    out = []
    for s_row, l_row in zip(scores.tolist(), labels.tolist(), strict=True):
        out.append([(i, s) for i, s in zip(l_row, s_row, strict=True) if i >= 0])
    return out


__all__ = ["Gallery", "Hit", "IdsLike", "as_ids", "as_unit_vectors", "check_k", "exact_top_k",
           "hits_from_arrays"]


class TemplateGallery(Protocol):
    """A modality's gallery over Templates (what the identity service searches)."""

    def add(self, ids: IdsLike, templates: Sequence[Template]) -> None: ...

    def remove(self, ids: IdsLike) -> int: ...

    def search_batch(self, templates: Sequence[Template], k: int,
                     restrict_to: IdsLike | None = None) -> list[list[Hit]]: ...

    def __len__(self) -> int: ...

    def save(self, path: str | os.PathLike) -> None: ...
