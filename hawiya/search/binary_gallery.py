"""Exact 1:N search over iris codes (packed bits + masks), rotation-compensated.

Same API shape as the float galleries in :mod:`hawiya.search.gallery`: ``add``, ``remove``,
``search``, ``search_batch``, ``len``, ``save``/``load``. Scores are the iris engine's
``compare`` scores (``1 - normalised Hamming distance``, higher = better, 0 = too little
common iris), so a search hit and a 1:1 comparison of the same pair agree exactly.

Storage is the matcher's scan layout: blocks of 256 entries, each block ``(W, 1 + planes,
256)`` uint64, so a gallery word of consecutive entries is contiguous and the scan runs SIMD
popcounts over entries (see :mod:`hawiya.biometrics.iris_matching`). The probe is packed
once per rotation (pre-shifted) and every shift is compared with every entry in one pass.
A removed entry's slot is filled by the last entry, so the storage stays dense.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hawiya.biometrics.iris_encoding import IrisCode
from hawiya.biometrics.iris_matching import (
    BLOCK,
    MatchConfig,
    pack_bits,
    scan_blocks,
    shifted_probe,
    to_blocks,
    unpack_bits,
)
from hawiya.biometrics.template import Template
from hawiya.errors import InvalidInput, TemplateMismatch
from hawiya.search.gallery import Hit, IdsLike, as_ids, check_k

FORMAT = "hawiya-binary-gallery"
FORMAT_VERSION = 1

CodeLike = Template | IrisCode | bytes


def _default_match() -> MatchConfig:
    from hawiya.biometrics.iris import IrisConfig

    return IrisConfig().matching


def _decode(item: CodeLike) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int]]:
    """Packed (planes, W) code, (W,) mask and (planes, rings, positions) of one item."""
    from hawiya.biometrics.iris import decode_payload

    if isinstance(item, Template):
        if item.modality != "iris":  # galleries are kept per algorithm id by their owner
            raise TemplateMismatch(f"cannot put a {item.modality} template in an iris gallery")
        return decode_payload(item.data)
    if isinstance(item, (bytes, bytearray, memoryview)):
        return decode_payload(bytes(item))
    if isinstance(item, IrisCode):
        return pack_bits(item.code), pack_bits(item.mask), item.code.shape
    raise InvalidInput(f"expected an iris Template, IrisCode or payload, got {type(item)}")


class BinaryGallery:
    """Exact rotation-compensated Hamming search over iris codes."""

    def __init__(self, match: MatchConfig | None = None, threads: int = 1):
        self.match = match or _default_match()
        self.threads = max(1, int(threads))
        self._layout: tuple[int, int, int] | None = None  # planes, rings, positions
        self._blocks = np.zeros((0, 1, 1, BLOCK), np.uint64)
        self._ids = np.zeros(0, np.int64)
        self._row: dict[int, int] = {}

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return int(self._ids.size)

    @property
    def layout(self) -> tuple[int, int, int] | None:
        return self._layout

    @property
    def ids(self) -> np.ndarray:
        return self._ids.copy()

    def _counts(self) -> np.ndarray:
        n, nb = len(self), self._blocks.shape[0]
        counts = np.full(nb, BLOCK, np.int64)
        full, rest = divmod(n, BLOCK)
        counts[full:] = 0
        if rest:
            counts[full] = rest
        return counts

    def _set_layout(self, layout: tuple[int, int, int]) -> None:
        if self._layout is None:
            planes, rings, positions = layout
            self._layout = tuple(int(x) for x in layout)  # type: ignore[assignment]
            self._blocks = np.zeros((0, rings * positions // 64, planes + 1, BLOCK), np.uint64)
        elif tuple(layout) != self._layout:
            raise InvalidInput(f"iris code layout {tuple(layout)} differs from the gallery's "
                               f"{self._layout}")

    def _ensure_capacity(self, n: int) -> None:
        need = -(-n // BLOCK)
        have = self._blocks.shape[0]
        if need <= have:
            return
        grow = max(need, 2 * have, 4)
        new = np.zeros((grow,) + self._blocks.shape[1:], np.uint64)
        new[:have] = self._blocks
        self._blocks = new

    def _write(self, row: int, code: np.ndarray, mask: np.ndarray) -> None:
        b, lane = divmod(row, BLOCK)
        self._blocks[b, :, 0, lane] = mask
        self._blocks[b, :, 1:, lane] = code.T

    def _read_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b, lane = np.divmod(rows, BLOCK)
        g = self._blocks[b, :, :, lane]  # (k, W, 1+P)
        return np.ascontiguousarray(g[:, :, 1:].transpose(0, 2, 1)), \
            np.ascontiguousarray(g[:, :, 0])

    # ------------------------------------------------------------------ mutation
    def add(self, ids: IdsLike, codes: Sequence[CodeLike] | tuple[np.ndarray, np.ndarray]
            ) -> None:
        """Insert codes under ``ids``; an id already present is replaced.

        ``codes`` is a sequence of iris Templates / IrisCodes / template payloads, or a
        tuple of packed arrays (codes (n, planes, W), masks (n, W)) with ``layout`` set.
        """
        arr = as_ids(ids)
        if isinstance(codes, tuple) and len(codes) == 2 and isinstance(codes[0], np.ndarray):
            if self._layout is None:
                raise InvalidInput("add packed arrays only to a gallery with a known layout")
            pc = np.asarray(codes[0], dtype=np.uint64)
            pm = np.asarray(codes[1], dtype=np.uint64)
            planes, rings, positions = self._layout
            w = rings * positions // 64
            if pc.shape != (arr.size, planes, w) or pm.shape != (arr.size, w):
                raise InvalidInput(f"packed codes must be ({arr.size}, {planes}, {w}) and "
                                   f"({arr.size}, {w})")
        else:
            seq = list(codes)
            if len(seq) != arr.size:
                raise InvalidInput(f"{arr.size} ids but {len(seq)} codes")
            dec = []
            for it in seq:
                c, m, lay = _decode(it)
                self._set_layout(lay)
                dec.append((c, m))
            if not dec:
                return
            pc = np.stack([c for c, _ in dec])
            pm = np.stack([m for _, m in dec])
        if arr.size == 0:
            return
        rows = np.empty(arr.size, np.int64)
        n0 = len(self._ids)
        new_ids = []
        for j, i in enumerate(arr.tolist()):
            row = self._row.get(i)
            if row is None:
                row = n0 + len(new_ids)
                new_ids.append(i)
                self._row[i] = row
            rows[j] = row
        self._ensure_capacity(n0 + len(new_ids))
        b, lane = np.divmod(rows, BLOCK)
        self._blocks[b, :, 0, lane] = pm
        self._blocks[b, :, 1:, lane] = pc.transpose(0, 2, 1)
        if new_ids:
            self._ids = np.concatenate([self._ids, np.asarray(new_ids, np.int64)])

    def remove(self, ids: IdsLike) -> int:
        """Remove ``ids`` (unknown ids are ignored); returns how many were removed."""
        removed = 0
        for i in as_ids(ids, unique=False).tolist():
            row = self._row.pop(i, None)
            if row is None:
                continue
            last = len(self._ids) - 1
            if row != last:
                c, m = self._read_rows(np.array([last]))
                self._write(row, c[0], m[0])
                moved = int(self._ids[last])
                self._ids[row] = moved
                self._row[moved] = row
            self._write(last, np.zeros_like(self._read_rows(np.array([last]))[0][0]),
                        np.zeros(self._blocks.shape[1], np.uint64))
            self._ids = self._ids[:last]
            removed += 1
        return removed

    # ------------------------------------------------------------------ search
    def _probe(self, item: CodeLike) -> tuple[np.ndarray, np.ndarray]:
        c, m, lay = _decode(item)
        if self._layout is not None and tuple(lay) != self._layout:
            raise InvalidInput(f"probe layout {tuple(lay)} differs from the gallery's "
                               f"{self._layout}")
        planes, rings, positions = lay
        return shifted_probe(unpack_bits(c, rings, positions), unpack_bits(m, rings, positions),
                             self.match.shifts)

    def scores(self, probe: CodeLike, restrict_to: IdsLike | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) of every gallery entry (or of ``restrict_to``'s known ids)."""
        if len(self) == 0:
            return np.zeros(0, np.int64), np.zeros(0)
        pc, pm = self._probe(probe)
        if restrict_to is None:
            return self._ids.copy(), scan_blocks(pc, pm, self._blocks, self._counts(),
                                                 self.match, self.threads)
        want = as_ids(restrict_to, unique=False)
        rows = np.array(sorted({self._row[i] for i in want.tolist() if i in self._row}),
                        dtype=np.int64)
        if rows.size == 0:
            return np.zeros(0, np.int64), np.zeros(0)
        c, m = self._read_rows(rows)
        blocks, counts = to_blocks(c, m)
        return self._ids[rows], scan_blocks(pc, pm, blocks, counts, self.match, self.threads)

    def search(self, template_or_code: CodeLike, k: int,
               restrict_to: Sequence[int] | None = None) -> list[Hit]:
        """Up to ``k`` (id, score) pairs, best first (ties: smaller id first)."""
        k = check_k(k)
        ids, sc = self.scores(template_or_code, restrict_to)
        k = min(k, ids.size)
        if k == 0:
            return []
        part = np.argpartition(-sc, k - 1)[:k] if k < ids.size else np.arange(ids.size)
        order = np.lexsort((ids[part], -sc[part]))
        top = part[order]
        return list(zip(ids[top].tolist(), sc[top].tolist(), strict=True))

    def search_batch(self, probes: Sequence[CodeLike], k: int,
                     restrict_to: Sequence[int] | None = None) -> list[list[Hit]]:
        return [self.search(p, k, restrict_to) for p in probes]

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write a snapshot atomically (temp file in the same folder, then rename)."""
        dest = Path(path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        n = len(self)
        if n:
            codes, masks = self._read_rows(np.arange(n))
        else:
            codes = masks = np.zeros((0,), np.uint64)
        meta = {"format": FORMAT, "version": FORMAT_VERSION, "layout": self._layout,
                "match": {"max_shift": self.match.max_shift, "n_ref": self.match.n_ref,
                          "min_overlap": self.match.min_overlap}}
        fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".tmp", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8),
                         ids=self._ids, codes=codes, masks=masks)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike, threads: int = 1) -> BinaryGallery:
        try:
            with np.load(Path(path), allow_pickle=False) as z:
                meta = json.loads(z["meta"].tobytes().decode())
                ids, codes, masks = z["ids"], z["codes"], z["masks"]
        except (OSError, ValueError, KeyError) as exc:
            raise InvalidInput(f"not a binary gallery snapshot: {path} ({exc})") from exc
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise InvalidInput(f"unsupported binary gallery snapshot: {path}")
        g = cls(MatchConfig(**meta["match"]), threads=threads)
        if meta["layout"] is not None:
            g._set_layout(tuple(meta["layout"]))
            if ids.size:
                g.add(ids, (codes, masks))
        return g


__all__ = ["BinaryGallery"]
