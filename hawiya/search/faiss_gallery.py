"""Face gallery on faiss: cosine similarity over L2-normalised float32 vectors.

Two kinds, one API (:class:`hawiya.search.gallery.Gallery`):

* ``"flat"`` (default): exact search, ``IndexIDMap2(IndexFlatIP)``; removal is native.
* ``"hnsw"``: approximate search, ``IndexHNSWFlat`` with inner product. HNSW graphs cannot
  delete nodes, so removal (and replacing an id) leaves a *tombstone*: the row stays in the
  graph, is excluded from every search by an id selector, and once tombstones exceed
  ``compact_ratio`` of the rows the index is rebuilt from the live vectors.

``restrict_to`` (search only among given ids) is answered exactly by gathering those vectors
and doing one matrix product when there are at most ``exact_restrict_max`` of them (fast and
exact, also for HNSW, whose filtered graph search loses recall on small subsets); larger
subsets go through a faiss ``IDSelector`` in the index's own search.

Searches run concurrently; adds, removals and compaction take an exclusive lock. Snapshots
are one file written to a temporary name and renamed into place.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

from hawiya.errors import InvalidInput
from hawiya.search.gallery import (
    Hit,
    IdsLike,
    as_ids,
    as_unit_vectors,
    check_k,
    exact_top_k,
    hits_from_arrays,
)

KINDS = ("flat", "hnsw")
SNAPSHOT_MAGIC = b"HWYG"
SNAPSHOT_VERSION = 1
_MAX_HEADER = 1 << 20


class _RWLock:
    """Many readers or one writer; a waiting writer blocks new readers (no starvation)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


def _bitmap_selector(rows: np.ndarray, n: int) -> tuple[faiss.IDSelector, np.ndarray]:
    """IDSelectorBitmap over internal rows; the bitmap must outlive the search."""
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    bits = np.packbits(mask, bitorder="little")
    return faiss.IDSelectorBitmap(n, faiss.swig_ptr(bits)), bits


class FaissGallery:
    """1:N search over unit vectors; score = cosine similarity (higher = more similar)."""

    def __init__(self, dim: int, kind: str = "flat", *, hnsw_m: int = 32,
                 ef_construction: int = 80, ef_search: int = 64,
                 exact_restrict_max: int = 65_536, compact_ratio: float = 0.25) -> None:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim <= 0:
            raise InvalidInput(f"dimension must be a positive integer, got {dim!r}")
        if kind not in KINDS:
            raise InvalidInput(f"gallery kind must be one of {', '.join(KINDS)}, got {kind!r}")
        self._dim = int(dim)
        self._kind = kind
        self.hnsw_m = int(hnsw_m)
        self.ef_construction = int(ef_construction)
        self.ef_search = int(ef_search)
        self.exact_restrict_max = int(exact_restrict_max)
        self.compact_ratio = float(compact_ratio)
        self._lock = _RWLock()
        self._reset()

    # ------------------------------------------------------------------ construction

    def _new_hnsw(self) -> faiss.IndexHNSWFlat:
        index = faiss.IndexHNSWFlat(self._dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.ef_construction
        index.hnsw.efSearch = self.ef_search
        return index

    def _reset(self) -> None:
        if self._kind == "flat":
            self._inner = faiss.IndexFlatIP(self._dim)
            self._index: faiss.Index = faiss.IndexIDMap2(self._inner)
            self._idset: set[int] = set()
        else:
            self._index = self._new_hnsw()
            self._rows = 0
            self._row_ids = np.empty(0, dtype=np.int64)  # internal row -> external id
            self._alive = np.empty(0, dtype=bool)
            self._row_of: dict[int, int] = {}  # external id -> live row
            self._alive_sel: tuple[faiss.IDSelector, np.ndarray] | None = None

    @classmethod
    def from_pairs(cls, dim: int, ids: IdsLike, vectors: np.ndarray, kind: str = "flat",
                   **options: float) -> FaissGallery:
        """A gallery rebuilt from (id, vector) pairs, e.g. read back from the registry."""
        gallery = cls(dim, kind, **options)  # type: ignore[arg-type]
        gallery.add(ids, vectors)
        return gallery

    # ------------------------------------------------------------------ properties

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def kind(self) -> str:
        return self._kind

    def __len__(self) -> int:
        return len(self._idset) if self._kind == "flat" else len(self._row_of)

    def __contains__(self, id_: object) -> bool:
        try:
            key = int(id_)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return False
        return key in (self._idset if self._kind == "flat" else self._row_of)

    def ids(self) -> np.ndarray:
        """The ids currently in the gallery (sorted)."""
        with self._lock.read():
            keys = self._idset if self._kind == "flat" else self._row_of
            return np.sort(np.fromiter(keys, dtype=np.int64, count=len(keys)))

    @property
    def tombstones(self) -> int:
        """Removed rows still inside an HNSW graph (always 0 for flat)."""
        return 0 if self._kind == "flat" else self._rows - len(self._row_of)

    def index_bytes(self) -> int:
        """Size of the serialised faiss index: its memory footprint, to within a few bytes."""
        total = 0

        def count(b: bytes) -> None:
            nonlocal total
            total += len(b)

        with self._lock.read():
            writer = faiss.PyCallbackIOWriter(count)
            faiss.write_index(self._index, writer)
            del writer
        return total

    # ------------------------------------------------------------------ mutation

    def add(self, ids: IdsLike, vectors: np.ndarray) -> None:
        """Insert ``vectors`` under ``ids``; ids already present are replaced."""
        keys = as_ids(ids)
        x = as_unit_vectors(vectors, self._dim, n=keys.size)
        if keys.size == 0:
            return
        with self._lock.write():
            if self._kind == "flat":
                present = [k for k in keys.tolist() if k in self._idset]
                if present:
                    self._index.remove_ids(faiss.IDSelectorBatch(np.array(present, np.int64)))
                self._index.add_with_ids(x, keys)
                self._idset.update(keys.tolist())
            else:
                self._tombstone(keys)
                start = self._rows
                self._index.add(x)
                self._grow(start + keys.size)
                self._row_ids[start:start + keys.size] = keys
                self._alive[start:start + keys.size] = True
                self._rows = start + keys.size
                self._row_of.update(zip(keys.tolist(), range(start, self._rows), strict=True))
                self._alive_sel = None
                self._maybe_compact()

    def remove(self, ids: IdsLike) -> int:
        """Remove ``ids``; unknown ids are ignored. Returns how many were removed."""
        keys = as_ids(ids, unique=False)
        if keys.size == 0:
            return 0
        with self._lock.write():
            if self._kind == "flat":
                present = [k for k in dict.fromkeys(keys.tolist()) if k in self._idset]
                if present:
                    self._index.remove_ids(faiss.IDSelectorBatch(np.array(present, np.int64)))
                    self._idset.difference_update(present)
                return len(present)
            removed = self._tombstone(np.unique(keys))
            self._maybe_compact()
            return removed

    def _grow(self, need: int) -> None:
        if need <= self._row_ids.size:
            return
        cap = max(need, 2 * self._row_ids.size, 1024)
        self._row_ids = np.concatenate([self._row_ids, np.full(cap - self._row_ids.size, -1)])
        self._alive = np.concatenate([self._alive, np.zeros(cap - self._alive.size, bool)])

    def _tombstone(self, keys: np.ndarray) -> int:
        rows = [self._row_of.pop(k) for k in keys.tolist() if k in self._row_of]
        if rows:
            self._alive[rows] = False
            self._alive_sel = None
        return len(rows)

    def _maybe_compact(self) -> None:
        dead = self._rows - len(self._row_of)
        if dead and dead >= self.compact_ratio * self._rows:
            self._compact()

    def compact(self) -> None:
        """Rebuild an HNSW index without its tombstones (no-op for flat)."""
        if self._kind == "hnsw":
            with self._lock.write():
                self._compact()

    def _compact(self) -> None:
        live = np.flatnonzero(self._alive[: self._rows])
        keys = self._row_ids[live]
        x = self._index.reconstruct_batch(live) if live.size else None
        self._reset()
        if x is not None:
            self._index.add(x)
            self._grow(keys.size)
            self._row_ids[: keys.size] = keys
            self._alive[: keys.size] = True
            self._rows = int(keys.size)
            self._row_of = dict(zip(keys.tolist(), range(self._rows), strict=True))

    # ------------------------------------------------------------------ search

    def search(self, vector: np.ndarray, k: int, restrict_to: IdsLike | None = None
               ) -> list[Hit]:
        """Up to ``k`` (id, cosine score) pairs, best first, optionally among ``restrict_to``."""
        q = np.asarray(vector)
        if q.ndim != 1:
            raise InvalidInput(f"search takes one vector; got shape {q.shape} (use search_batch)")
        return self.search_batch(q.reshape(1, -1), k, restrict_to)[0]

    def search_batch(self, vectors: np.ndarray, k: int, restrict_to: IdsLike | None = None
                     ) -> list[list[Hit]]:
        """``search`` for each row of ``vectors`` (one faiss call for the whole batch)."""
        k = check_k(k)
        q = as_unit_vectors(vectors, self._dim)
        nq = q.shape[0]
        with self._lock.read():
            if restrict_to is not None:
                return self._search_restricted(q, k, as_ids(restrict_to, unique=False))
            k = min(k, len(self))
            if k == 0 or nq == 0:
                return [[] for _ in range(nq)]
            if self._kind == "flat":
                d, labels = self._index.search(q, k)
                return hits_from_arrays(d, labels)
            params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k))
            if self.tombstones:
                if self._alive_sel is None:
                    self._alive_sel = _bitmap_selector(
                        np.flatnonzero(self._alive[: self._rows]), self._rows)
                sel, _bits = self._alive_sel
                params.sel = sel
            d, rows = self._index.search(q, k, params=params)
            return hits_from_arrays(d, np.where(rows >= 0, self._row_ids[rows], -1))

    def _present(self, keys: np.ndarray) -> np.ndarray:
        table = self._idset if self._kind == "flat" else self._row_of
        return np.array([k for k in np.unique(keys).tolist() if k in table], dtype=np.int64)

    def _search_restricted(self, q: np.ndarray, k: int, keys: np.ndarray) -> list[list[Hit]]:
        nq = q.shape[0]
        present = self._present(keys)
        k = min(k, present.size)
        if k == 0 or nq == 0:
            return [[] for _ in range(nq)]
        if self._kind == "flat":
            if present.size <= self.exact_restrict_max:
                return exact_top_k(q, present, self._index.reconstruct_batch(present), k)
            sel = faiss.IDSelectorBatch(present)  # IndexIDMap2 translates it to rows
            d, labels = self._index.search(q, k, params=faiss.SearchParameters(sel=sel))
            return hits_from_arrays(d, labels)
        rows = np.fromiter((self._row_of[i] for i in present.tolist()), dtype=np.int64,
                           count=present.size)
        if present.size <= self.exact_restrict_max:
            return exact_top_k(q, present, self._index.reconstruct_batch(rows), k)
        sel, _bits = _bitmap_selector(rows, self._rows)
        params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k), sel=sel)
        d, out_rows = self._index.search(q, k, params=params)
        return hits_from_arrays(d, np.where(out_rows >= 0, self._row_ids[out_rows], -1))

    # ------------------------------------------------------------------ snapshots

    def save(self, path: str | os.PathLike) -> None:
        """Write a snapshot to ``path`` atomically (temporary file, fsync, rename)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        with self._lock.read():
            if self._kind == "hnsw":
                ids_blob = self._row_ids[: self._rows].astype("<i8").tobytes()
                alive_blob = np.packbits(self._alive[: self._rows]).tobytes()
            else:
                ids_blob = alive_blob = b""
            header = json.dumps({
                "kind": self._kind, "dim": self._dim, "count": len(self),
                "rows": self._rows if self._kind == "hnsw" else len(self),
                "metric": "inner_product", "ids_bytes": len(ids_blob),
                "alive_bytes": len(alive_blob), "faiss": faiss.__version__,
                "options": {"hnsw_m": self.hnsw_m, "ef_construction": self.ef_construction,
                            "ef_search": self.ef_search,
                            "exact_restrict_max": self.exact_restrict_max,
                            "compact_ratio": self.compact_ratio},
            }, sort_keys=True).encode()
            try:
                with open(tmp, "wb") as fh:
                    fh.write(SNAPSHOT_MAGIC + struct.pack(">BI", SNAPSHOT_VERSION, len(header)))
                    fh.write(header)
                    fh.write(ids_blob)
                    fh.write(alive_blob)
                    writer = faiss.PyCallbackIOWriter(fh.write)
                    faiss.write_index(self._index, writer)
                    del writer
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise

    @classmethod
    def load(cls, path: str | os.PathLike, expected_dim: int | None = None) -> FaissGallery:
        """Read a snapshot; with ``expected_dim`` a gallery of another dimension is refused."""
        src = Path(path)
        if not src.is_file():
            raise InvalidInput(f"gallery snapshot not found: {src}")
        try:
            with open(src, "rb") as fh:
                head = fh.read(9)
                if len(head) != 9 or head[:4] != SNAPSHOT_MAGIC:
                    raise InvalidInput(f"not a Hawiya gallery snapshot: {src}")
                version, hlen = struct.unpack(">BI", head[4:])
                if version != SNAPSHOT_VERSION:
                    raise InvalidInput(f"unsupported gallery snapshot version {version}")
                if hlen > _MAX_HEADER:
                    raise InvalidInput("gallery snapshot header too large")
                meta = json.loads(fh.read(hlen))
                kind, dim, rows = meta["kind"], int(meta["dim"]), int(meta["rows"])
                if expected_dim is not None and dim != expected_dim:
                    raise InvalidInput(f"gallery snapshot has dimension {dim}, "
                                       f"expected {expected_dim}")
                ids_blob = fh.read(int(meta["ids_bytes"]))
                alive_blob = fh.read(int(meta["alive_bytes"]))
                if len(ids_blob) != int(meta["ids_bytes"]) or len(alive_blob) != int(
                        meta["alive_bytes"]):
                    raise InvalidInput(f"truncated gallery snapshot: {src}")
                reader = faiss.PyCallbackIOReader(fh.read)
                index = faiss.read_index(reader)
                del reader
        except InvalidInput:
            raise
        except (ValueError, KeyError, TypeError, RuntimeError, struct.error) as exc:
            raise InvalidInput(f"corrupt gallery snapshot {src}: {exc}") from exc

        opts = meta.get("options", {})
        g = cls(dim, kind, **{k: v for k, v in opts.items()
                              if k in ("hnsw_m", "ef_construction", "ef_search",
                                       "exact_restrict_max", "compact_ratio")})
        if index.d != dim or index.ntotal != rows or index.metric_type != \
                faiss.METRIC_INNER_PRODUCT:
            raise InvalidInput(f"gallery snapshot {src} does not match its header "
                               f"(d={index.d}, rows={index.ntotal})")
        if kind == "flat":
            if not isinstance(index, faiss.IndexIDMap2):
                raise InvalidInput(f"gallery snapshot {src}: expected an IndexIDMap2")
            g._index = index
            g._inner = None
            g._idset = set(faiss.vector_to_array(index.id_map).tolist())
        else:
            if not isinstance(index, faiss.IndexHNSWFlat):
                raise InvalidInput(f"gallery snapshot {src}: expected an IndexHNSWFlat")
            index.hnsw.efSearch = g.ef_search
            g._index = index
            g._grow(rows)
            g._row_ids[:rows] = np.frombuffer(ids_blob, dtype="<i8", count=rows)
            g._alive[:rows] = np.unpackbits(np.frombuffer(alive_blob, np.uint8),
                                            count=rows).astype(bool)
            g._rows = rows
            live = np.flatnonzero(g._alive[:rows])
            g._row_of = dict(zip(g._row_ids[live].tolist(), live.tolist(), strict=True))
        if len(g) != int(meta["count"]):
            raise InvalidInput(f"gallery snapshot {src}: {len(g)} ids, header says "
                               f"{meta['count']}")
        return g

    def __repr__(self) -> str:
        return f"FaissGallery(dim={self._dim}, kind={self._kind!r}, size={len(self)})"


__all__ = ["FaissGallery", "KINDS"]
