"""Rotation-compensated fractional Hamming distance over packed iris codes, in bulk.

Packed form. A code of ``planes`` x ``rings`` x ``positions`` bits is packed plane by plane
into ``W = rings * positions / 64`` little-endian uint64 words (``np.packbits`` order); the
mask (one bit per ring/position, shared by the planes) into W more words. A gallery is two
C-contiguous arrays: codes (N, planes, W) and masks (N, W).

Rotation. A probe is rolled along the angular axis for every shift in
``[-max_shift, max_shift]`` and packed once per shift (``shifted_probe``); the scan then
compares every pre-shifted probe with every gallery entry, word by word, so no bit
shuffling happens in the inner loop.

Score for one shift, with ``M = mask_a & mask_b`` and ``n = planes * popcount(M)`` the
number of bits compared::

    hd_raw  = popcount((code_a ^ code_b) & M, over planes) / n
    hd_norm = 0.5 - (0.5 - hd_raw) * sqrt(n / n_ref)       (Daugman's normalisation)

A shift with ``popcount(M) < min_overlap`` positions is not a comparison. The pair's score
is ``clip(1 - min over shifts of hd_norm, 0, 1)``, higher = more similar; when no shift has
enough overlap the score is 0.0 (a non-match). ``n_ref`` is the typical number of bits
compared between two good captures, so a pair that shares fewer bits is pulled towards
0.5 (chance) and cannot reach a match score on a small lucky patch.

Kernels: ``numba`` (hardware popcount, vectorised by LLVM) when it is installed, otherwise
numpy's ``bitwise_count`` (numpy >= 2) or a byte lookup table. All produce identical scores.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

try:  # optional accelerator
    if os.environ.get("HAWIYA_NO_NUMBA"):
        raise ImportError
    import numba as _numba
except ImportError:  # pragma: no cover - depends on the environment
    _numba = None


@dataclass(frozen=True)
class MatchConfig:
    max_shift: int = 8  # angular positions each way (positions=128 -> 2.8125 deg each)
    n_ref: float = 2048.0  # typical bits compared (normalisation reference)
    min_overlap: int = 256  # fewest common valid positions for a comparison

    @property
    def shifts(self) -> np.ndarray:
        return np.arange(-self.max_shift, self.max_shift + 1)


# --------------------------------------------------------------------------- packing


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Bool array (..., rings, positions) -> uint64 words (..., rings*positions/64)."""
    b = np.asarray(bits, dtype=bool)
    lead = b.shape[:-2]
    flat = b.reshape(*lead, -1)
    if flat.shape[-1] % 64:
        raise ValueError("rings * positions must be a multiple of 64")
    by = np.packbits(flat, axis=-1, bitorder="little")
    return np.ascontiguousarray(by).view("<u8").astype(np.uint64, copy=False)


def unpack_bits(words: np.ndarray, rings: int, positions: int) -> np.ndarray:
    w = np.ascontiguousarray(words, dtype="<u8")
    by = w.view(np.uint8)
    bits = np.unpackbits(by, axis=-1, bitorder="little").astype(bool)
    return bits.reshape(*w.shape[:-1], rings, positions)


def shifted_probe(code: np.ndarray, mask: np.ndarray, shifts: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Packed probe for every shift: codes (S, planes, W) and masks (S, W)."""
    codes = np.stack([pack_bits(np.roll(code, int(s), axis=2)) for s in shifts])
    masks = np.stack([pack_bits(np.roll(mask, int(s), axis=1)) for s in shifts])
    return np.ascontiguousarray(codes), np.ascontiguousarray(masks)


# --------------------------------------------------------------------------- kernels

_LUT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(a: np.ndarray) -> np.ndarray:
    """Per-element popcount of uint64 words (sum over the last axis done by the caller)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(a)
    by = np.ascontiguousarray(a).view(np.uint8)
    return _LUT[by].reshape(*a.shape, 8).sum(axis=-1, dtype=np.uint16)


def _finish(dis: np.ndarray, cnt: np.ndarray, planes: int, cfg: MatchConfig) -> np.ndarray:
    """(..., S) disagreement and overlap counts -> scores (...)."""
    n = cnt.astype(np.float64) * planes
    with np.errstate(divide="ignore", invalid="ignore"):
        hd = dis / np.maximum(n, 1.0)
        hdn = 0.5 - (0.5 - hd) * np.sqrt(n / cfg.n_ref)
    hdn = np.where(cnt >= cfg.min_overlap, hdn, np.inf)
    best = hdn.min(axis=-1)
    return np.where(np.isfinite(best), np.clip(1.0 - best, 0.0, 1.0), 0.0)


def _counts_numpy(pc: np.ndarray, pm: np.ndarray, gc: np.ndarray, gm: np.ndarray,
                  block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Disagreements and overlaps (N, S) with numpy, ``block`` gallery rows at a time."""
    n, s = gc.shape[0], pc.shape[0]
    dis = np.empty((n, s), np.int64)
    cnt = np.empty((n, s), np.int64)
    for b0 in range(0, n, block):
        g_c, g_m = gc[b0:b0 + block], gm[b0:b0 + block]
        m = pm[None, :, :] & g_m[:, None, :]  # (B, S, W)
        cnt[b0:b0 + block] = _popcount(m).sum(axis=-1, dtype=np.int64)
        x = (pc[None, :, :, :] ^ g_c[:, None, :, :]) & m[:, :, None, :]  # (B, S, P, W)
        dis[b0:b0 + block] = _popcount(x).sum(axis=(-1, -2), dtype=np.int64)
    return dis, cnt


if _numba is not None:

    from llvmlite import ir as _ir
    from numba.core import cgutils as _cgutils
    from numba.core import types as _types
    from numba.extending import intrinsic as _intrinsic

    @_intrinsic
    def _popc64(typingctx, x):  # pragma: no cover - compiled
        """Hardware popcount (llvm.ctpop.i64; LLVM vectorises it with vpopcntq/AVX2)."""
        sig = _types.uint64(_types.uint64)

        def codegen(context, builder, signature, args):
            fnty = _ir.FunctionType(_ir.IntType(64), [_ir.IntType(64)])
            fn = _cgutils.get_or_insert_function(builder.module, fnty, "llvm.ctpop.i64")
            return builder.call(fn, [args[0]])

        return sig, codegen

    @_numba.njit(cache=True, nogil=True, fastmath=True, boundscheck=False)
    def _finish_block(acc, nb, planes, n_ref, min_overlap, out, o0):  # pragma: no cover
        inv = 1.0 / n_ref
        for i in range(nb):
            best = np.inf
            for s in range(acc.shape[0]):
                v = acc[s, i]
                c = v >> np.uint64(32)
                if c >= min_overlap:
                    n = float(c) * planes
                    h = 0.5 - (0.5 - float(v & np.uint64(0xFFFFFFFF)) / n) * np.sqrt(n * inv)
                    if h < best:
                        best = h
            out[o0 + i] = 0.0 if best == np.inf else min(1.0, max(0.0, 1.0 - best))

    @_numba.njit(cache=True, nogil=True, fastmath=True, boundscheck=False)
    def _scan4(pc, pm, blocks, counts, b_lo, b_hi, n_ref, min_overlap, out):  # pragma: no cover
        """4-plane codes. blocks (NB, W, 5, B): [.., 0, :] mask, [.., 1+p, :] plane p."""
        n_s, _, n_w = pc.shape
        bsz = blocks.shape[3]
        acc = np.zeros((n_s, bsz), np.uint64)
        o = 0
        for bk in range(b_lo, b_hi):
            nb = counts[bk]
            acc[:, :] = 0
            for w in range(n_w):
                gm = blocks[bk, w, 0]
                g0, g1 = blocks[bk, w, 1], blocks[bk, w, 2]
                g2, g3 = blocks[bk, w, 3], blocks[bk, w, 4]
                for s in range(n_s):
                    pmw = pm[s, w]
                    p0, p1, p2, p3 = pc[s, 0, w], pc[s, 1, w], pc[s, 2, w], pc[s, 3, w]
                    a = acc[s]
                    for i in range(nb):  # LLVM vectorises this loop (vpopcntq / AVX2)
                        m = pmw & gm[i]
                        d = (_popc64((p0 ^ g0[i]) & m) + _popc64((p1 ^ g1[i]) & m)
                             + _popc64((p2 ^ g2[i]) & m) + _popc64((p3 ^ g3[i]) & m))
                        a[i] += (_popc64(m) << np.uint64(32)) + d
            _finish_block(acc, nb, 4, n_ref, min_overlap, out, o)
            o += nb

    @_numba.njit(cache=True, nogil=True, fastmath=True, boundscheck=False)
    def _scan2(pc, pm, blocks, counts, b_lo, b_hi, n_ref, min_overlap, out):  # pragma: no cover
        """2-plane codes (one filter)."""
        n_s, _, n_w = pc.shape
        bsz = blocks.shape[3]
        acc = np.zeros((n_s, bsz), np.uint64)
        o = 0
        for bk in range(b_lo, b_hi):
            nb = counts[bk]
            acc[:, :] = 0
            for w in range(n_w):
                gm, g0, g1 = blocks[bk, w, 0], blocks[bk, w, 1], blocks[bk, w, 2]
                for s in range(n_s):
                    pmw, p0, p1 = pm[s, w], pc[s, 0, w], pc[s, 1, w]
                    a = acc[s]
                    for i in range(nb):
                        m = pmw & gm[i]
                        d = _popc64((p0 ^ g0[i]) & m) + _popc64((p1 ^ g1[i]) & m)
                        a[i] += (_popc64(m) << np.uint64(32)) + d
            _finish_block(acc, nb, 2, n_ref, min_overlap, out, o)
            o += nb


BLOCK = 256  # gallery entries per block of the transposed scan layout


def to_blocks(codes: np.ndarray, masks: np.ndarray, block: int = BLOCK
              ) -> tuple[np.ndarray, np.ndarray]:
    """Row-major (N, P, W)/(N, W) -> scan layout (NB, W, 1+P, block) and per-block counts.

    In the scan layout one gallery word of ``block`` consecutive entries is contiguous, so
    the inner loop runs over entries with SIMD popcounts and no horizontal sums.
    """
    n, planes, w = codes.shape
    nb = -(-n // block) if n else 0
    out = np.zeros((nb * block, 1 + planes, w), np.uint64)
    out[:n, 0] = masks
    out[:n, 1:] = codes
    out = np.ascontiguousarray(out.reshape(nb, block, 1 + planes, w).transpose(0, 3, 2, 1))
    counts = np.full(nb, block, np.int64)
    if nb and n % block:
        counts[-1] = n % block
    return out, counts


def scan_blocks(pc: np.ndarray, pm: np.ndarray, blocks: np.ndarray, counts: np.ndarray,
                cfg: MatchConfig, threads: int = 1) -> np.ndarray:
    """Scores of a pre-shifted probe against every entry of a block-layout gallery."""
    planes = pc.shape[1]
    total = int(counts.sum())
    out = np.empty(total, np.float64)
    if total == 0:
        return out
    if blocks.shape[1] != pc.shape[2] or blocks.shape[2] != planes + 1:
        raise ValueError("probe and gallery code layouts differ")
    kern = None
    if _numba is not None:
        kern = {4: _scan4, 2: _scan2}.get(planes)
    if kern is None:  # generic path: back to row-major and numpy
        rows = blocks.transpose(0, 3, 2, 1).reshape(-1, planes + 1, blocks.shape[1])
        keep = np.concatenate([np.arange(c) + i * blocks.shape[3] for i, c in enumerate(counts)])
        rows = rows[keep]
        dis, cnt = _counts_numpy(pc, pm, np.ascontiguousarray(rows[:, 1:]),
                                 np.ascontiguousarray(rows[:, 0]))
        return _finish(dis, cnt, planes, cfg)
    pc = np.ascontiguousarray(pc)
    pm = np.ascontiguousarray(pm)
    nbk = blocks.shape[0]
    starts = np.concatenate([[0], np.cumsum(counts)])
    threads = max(1, min(int(threads), nbk))
    if threads == 1:
        kern(pc, pm, blocks, counts, 0, nbk, float(cfg.n_ref), np.uint64(cfg.min_overlap), out)
        return out
    from concurrent.futures import ThreadPoolExecutor  # the kernel releases the GIL

    edges = np.linspace(0, nbk, threads + 1).astype(int)

    def run(t: int) -> None:
        lo, hi = edges[t], edges[t + 1]
        kern(pc, pm, blocks, counts, lo, hi, float(cfg.n_ref), np.uint64(cfg.min_overlap),
             out[starts[lo]:starts[hi]])

    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(run, range(threads)))
    return out


def have_numba() -> bool:
    return _numba is not None


def scores_packed(pc: np.ndarray, pm: np.ndarray, gc: np.ndarray, gm: np.ndarray,
                  cfg: MatchConfig, rows: np.ndarray | None = None,
                  backend: str = "auto") -> np.ndarray:
    """Scores of a pre-shifted probe (S, P, W)/(S, W) against gallery rows (N, P, W)/(N, W).

    ``rows`` restricts the scan to those gallery row indices (scores come in that order).
    """
    if pc.ndim != 3 or gc.ndim != 3 or pc.shape[1:] != gc.shape[1:]:
        raise ValueError(f"probe {pc.shape} and gallery {gc.shape} layouts differ")
    planes = pc.shape[1]
    if backend == "auto":
        backend = "numba" if _numba is not None and planes in (2, 4) else "numpy"
    if rows is not None:
        gc, gm = gc[rows], gm[rows]
    if backend == "numba" and _numba is not None and planes in (2, 4):
        blocks, counts = to_blocks(gc, gm)
        return scan_blocks(pc, pm, blocks, counts, cfg)
    dis, cnt = _counts_numpy(pc, pm, gc, gm)
    return _finish(dis, cnt, planes, cfg)


def score_reference(code_a: np.ndarray, mask_a: np.ndarray, code_b: np.ndarray,
                    mask_b: np.ndarray, cfg: MatchConfig) -> float:
    """Plain boolean-array implementation (the specification the fast kernels must meet)."""
    planes = code_a.shape[0]
    best = None
    for s in cfg.shifts:
        ca = np.roll(code_a, int(s), axis=2)
        ma = np.roll(mask_a, int(s), axis=1)
        m = ma & mask_b
        cnt = int(m.sum())
        if cnt < cfg.min_overlap:
            continue
        n = cnt * planes
        dis = int(((ca != code_b) & m[None]).sum())
        hdn = 0.5 - (0.5 - dis / n) * np.sqrt(n / cfg.n_ref)
        best = hdn if best is None else min(best, hdn)
    if best is None:
        return 0.0
    return float(min(1.0, max(0.0, 1.0 - best)))
