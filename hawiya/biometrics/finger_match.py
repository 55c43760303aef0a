"""Minutiae matching: local neighbour structures, seeded alignment, greedy pairing.

For each minutia, its ``k`` nearest neighbours are described relative to it (distance,
direction of the neighbour seen from the minutia, direction difference), which is invariant
to rotation and translation. Matching two templates:

1. local similarity of every minutia pair (i in A, j in B): neighbours are paired greedily
   within tolerances, similarity = sum over pairs of (1 - normalised error) / k;
2. the ``n_seeds`` most similar pairs each propose an alignment (rotation = direction
   difference, translation = the pair's positions);
3. under each alignment, minutiae are paired one-to-one (greedy by distance) when their
   aligned positions are within ``tol_d + tol_d_slope * r`` pixels (``r``: distance from the
   seed, so distortion far from the seed is tolerated) and directions within ``tol_a``; the
   alignment is refined by a least-squares fit to its pairs and the pairing redone;
4. score of the best alignment = m^2 / (n_A' * n_B'), with m the weighted number of pairs
   and n' the minutiae of each template inside the other's (aligned) area, floored at
   ``min_count``: the share of comparable minutiae that pair up, in [0, 1].

The kernels are numba functions over flat arrays, so a gallery is scored in one call
(``score_gallery``, parallel over the gallery).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

TWO_PI = 2 * np.pi


@dataclass(frozen=True)
class MatchConfig:
    k: int = 6  # neighbours per local structure
    max_neighbour_dist: float = 160.0
    tol_ld: float = 12.0  # local structure distance tolerance (px)
    tol_lphi: float = 0.4  # radians
    tol_ldelta: float = 0.5
    n_seeds: int = 10
    tol_d: float = 12.0
    tol_d_slope: float = 0.06
    tol_a: float = 0.55
    min_count: int = 12
    area_margin: float = 12.0


@nb.njit(cache=True, inline="always")
def _wrap(a):
    a = (a + np.pi) % (2 * np.pi) - np.pi
    return a


@nb.njit(cache=True)
def local_structures(xy, th, k, max_d):
    """(n, k, 3) neighbour features (d, phi, delta) and (n,) neighbour counts."""
    n = xy.shape[0]
    feats = np.zeros((n, k, 3), np.float32)
    counts = np.zeros(n, np.int32)
    d = np.empty(n, np.float64)
    for i in range(n):
        for j in range(n):
            dx = xy[j, 0] - xy[i, 0]
            dy = xy[j, 1] - xy[i, 1]
            d[j] = np.sqrt(dx * dx + dy * dy) if j != i else 1e18
        order = np.argsort(d)
        c = 0
        for t in range(min(k, n - 1)):
            j = order[t]
            if d[j] > max_d:
                break
            dx = xy[j, 0] - xy[i, 0]
            dy = xy[j, 1] - xy[i, 1]
            feats[i, c, 0] = d[j]
            feats[i, c, 1] = _wrap(np.arctan2(dy, dx) - th[i])
            feats[i, c, 2] = _wrap(th[j] - th[i])
            c += 1
        counts[i] = c
    return feats, counts


@nb.njit(cache=True)
def _local_sim(fa, ca, fb, cb, tol_ld, tol_lphi, tol_ldelta, k):
    used = np.zeros(cb, np.bool_)
    s = 0.0
    for p in range(ca):
        best = -1
        bestc = 1e9
        for q in range(cb):
            if used[q]:
                continue
            e0 = abs(fa[p, 0] - fb[q, 0]) / tol_ld
            if e0 >= 1.0:
                continue
            e1 = abs(_wrap(fa[p, 1] - fb[q, 1])) / tol_lphi
            if e1 >= 1.0:
                continue
            e2 = abs(_wrap(fa[p, 2] - fb[q, 2])) / tol_ldelta
            if e2 >= 1.0:
                continue
            c = (e0 + e1 + e2) / 3.0
            if c < bestc:
                bestc = c
                best = q
        if best >= 0:
            used[best] = True
            s += 1.0 - bestc
    return s / k


@nb.njit(cache=True)
def _pair(ax, ay, ath, bxy, bth, cx, cy, tol_d, slope, tol_a, pa, pb, wq_a, wq_b):
    """Greedy one-to-one pairing of aligned A (ax, ay, ath) with B; returns count, weight."""
    na = ax.shape[0]
    nb_ = bxy.shape[0]
    ncand = 0
    cand_c = np.empty(na * 4, np.float64)
    cand_a = np.empty(na * 4, np.int32)
    cand_b = np.empty(na * 4, np.int32)
    for i in range(na):
        found = 0
        for j in range(nb_):
            dx = ax[i] - bxy[j, 0]
            dy = ay[i] - bxy[j, 1]
            dd = dx * dx + dy * dy
            rx = bxy[j, 0] - cx
            ry = bxy[j, 1] - cy
            tol = tol_d + slope * np.sqrt(rx * rx + ry * ry)
            if dd >= tol * tol:
                continue
            da = abs(_wrap(ath[i] - bth[j]))
            if da >= tol_a:
                continue
            if ncand < cand_c.shape[0] and found < 4:
                cand_c[ncand] = np.sqrt(dd) / tol + da / tol_a
                cand_a[ncand] = i
                cand_b[ncand] = j
                ncand += 1
                found += 1
    order = np.argsort(cand_c[:ncand])
    used_a = np.zeros(na, np.bool_)
    used_b = np.zeros(nb_, np.bool_)
    m = 0
    w = 0.0
    for t in order:
        i = cand_a[t]
        j = cand_b[t]
        if used_a[i] or used_b[j]:
            continue
        used_a[i] = True
        used_b[j] = True
        pa[m] = i
        pb[m] = j
        w += (1.0 - 0.5 * cand_c[t]) * 0.5 * (wq_a[i] + wq_b[j])
        m += 1
    return m, w


@nb.njit(cache=True)
def match_pair(axy, ath, aq, afeat, acnt, bxy, bth, bq, bfeat, bcnt, k, tol_ld, tol_lphi,
               tol_ldelta, n_seeds, tol_d, slope, tol_a, min_count, margin):
    na = axy.shape[0]
    nb_ = bxy.shape[0]
    if na < 2 or nb_ < 2:
        return 0.0
    # 1. local similarities, keep the best n_seeds
    seeds_s = np.full(n_seeds, -1.0)
    seeds_i = np.zeros(n_seeds, np.int32)
    seeds_j = np.zeros(n_seeds, np.int32)
    for i in range(na):
        for j in range(nb_):
            if abs(_wrap(ath[i] - bth[j])) > np.pi:  # (all pass: rotation unknown)
                continue
            s = _local_sim(afeat[i], acnt[i], bfeat[j], bcnt[j], tol_ld, tol_lphi,
                           tol_ldelta, k)
            if s > seeds_s[n_seeds - 1]:
                t = n_seeds - 1
                while t > 0 and seeds_s[t - 1] < s:
                    seeds_s[t] = seeds_s[t - 1]
                    seeds_i[t] = seeds_i[t - 1]
                    seeds_j[t] = seeds_j[t - 1]
                    t -= 1
                seeds_s[t] = s
                seeds_i[t] = i
                seeds_j[t] = j
    best = 0.0
    ax = np.empty(na, np.float64)
    ay = np.empty(na, np.float64)
    at = np.empty(na, np.float64)
    pa = np.empty(min(na, nb_) + 1, np.int32)
    pb = np.empty(min(na, nb_) + 1, np.int32)
    # bounding boxes of B
    bx0 = bxy[:, 0].min() - margin
    bx1 = bxy[:, 0].max() + margin
    by0 = bxy[:, 1].min() - margin
    by1 = bxy[:, 1].max() + margin
    for s_ in range(n_seeds):
        if seeds_s[s_] <= 0.0:
            break
        i0 = seeds_i[s_]
        j0 = seeds_j[s_]
        rot = _wrap(bth[j0] - ath[i0])
        c = np.cos(rot)
        sn = np.sin(rot)
        tx = bxy[j0, 0] - (c * axy[i0, 0] - sn * axy[i0, 1])
        ty = bxy[j0, 1] - (sn * axy[i0, 0] + c * axy[i0, 1])
        m = 0
        w = 0.0
        for it in range(2):
            for i in range(na):
                ax[i] = c * axy[i, 0] - sn * axy[i, 1] + tx
                ay[i] = sn * axy[i, 0] + c * axy[i, 1] + ty
                at[i] = ath[i] + rot
            m, w = _pair(ax, ay, at, bxy, bth, bxy[j0, 0], bxy[j0, 1], tol_d, slope, tol_a,
                         pa, pb, aq, bq)
            if it == 1 or m < 3:
                break
            # least-squares rigid refit on the pairs (rotation from point sets)
            mxa = 0.0
            mya = 0.0
            mxb = 0.0
            myb = 0.0
            for t in range(m):
                mxa += axy[pa[t], 0]
                mya += axy[pa[t], 1]
                mxb += bxy[pb[t], 0]
                myb += bxy[pb[t], 1]
            mxa /= m
            mya /= m
            mxb /= m
            myb /= m
            sxx = 0.0
            sxy = 0.0
            for t in range(m):
                xa = axy[pa[t], 0] - mxa
                ya = axy[pa[t], 1] - mya
                xb = bxy[pb[t], 0] - mxb
                yb = bxy[pb[t], 1] - myb
                sxx += xa * xb + ya * yb
                sxy += xa * yb - ya * xb
            rot = np.arctan2(sxy, sxx)
            c = np.cos(rot)
            sn = np.sin(rot)
            tx = mxb - (c * mxa - sn * mya)
            ty = myb - (sn * mxa + c * mya)
        if m < 2:
            continue
        # overlap counts: A inside B's box, B inside aligned A's box
        ax0 = ax.min() - margin
        ax1 = ax.max() + margin
        ay0 = ay.min() - margin
        ay1 = ay.max() + margin
        na_in = 0
        for i in range(na):
            if bx0 <= ax[i] <= bx1 and by0 <= ay[i] <= by1:
                na_in += 1
        nb_in = 0
        for j in range(nb_):
            if ax0 <= bxy[j, 0] <= ax1 and ay0 <= bxy[j, 1] <= ay1:
                nb_in += 1
        da = max(na_in, min_count)
        db = max(nb_in, min_count)
        sc = w * w / (da * db)
        if sc > best:
            best = sc
    return min(best, 1.0)


@nb.njit(cache=True, parallel=True)
def score_gallery(axy, ath, aq, afeat, acnt, g_off, gxy, gth, gq, gfeat, gcnt, k, tol_ld,
                  tol_lphi, tol_ldelta, n_seeds, tol_d, slope, tol_a, min_count, margin):
    n = g_off.shape[0] - 1
    out = np.zeros(n, np.float64)
    for g in nb.prange(n):
        s0 = g_off[g]
        s1 = g_off[g + 1]
        out[g] = match_pair(axy, ath, aq, afeat, acnt, gxy[s0:s1], gth[s0:s1], gq[s0:s1],
                            gfeat[s0:s1], gcnt[s0:s1], k, tol_ld, tol_lphi, tol_ldelta,
                            n_seeds, tol_d, slope, tol_a, min_count, margin)
    return out


# --------------------------------------------------------------------------- prepared sets


@dataclass
class MinutiaeSet:
    """Minutiae of one template prepared for matching."""

    xy: np.ndarray  # (n, 2) float64
    th: np.ndarray  # (n,) float64
    q: np.ndarray  # (n,) float64 weights
    feat: np.ndarray  # (n, k, 3) float32
    cnt: np.ndarray  # (n,) int32


def prepare(mins: np.ndarray, cfg: MatchConfig) -> MinutiaeSet:
    mins = np.asarray(mins, np.float64).reshape(-1, 5)
    xy = np.ascontiguousarray(mins[:, :2])
    th = np.ascontiguousarray(mins[:, 2])
    q = np.ones(len(mins), np.float64)
    feat, cnt = local_structures(xy, th, cfg.k, cfg.max_neighbour_dist)
    return MinutiaeSet(xy, th, q, feat, cnt)


@dataclass
class PackedGallery:
    """Many MinutiaeSets as flat arrays with offsets (for :func:`score_gallery`)."""

    off: np.ndarray
    xy: np.ndarray
    th: np.ndarray
    q: np.ndarray
    feat: np.ndarray
    cnt: np.ndarray

    def __len__(self) -> int:
        return len(self.off) - 1


def pack(sets: list[MinutiaeSet], k: int) -> PackedGallery:
    sizes = np.array([len(s.th) for s in sets], np.int64)
    off = np.zeros(len(sets) + 1, np.int64)
    np.cumsum(sizes, out=off[1:])
    if not sets:
        return PackedGallery(off, np.zeros((0, 2)), np.zeros(0), np.zeros(0),
                             np.zeros((0, k, 3), np.float32), np.zeros(0, np.int32))
    return PackedGallery(off, np.concatenate([s.xy for s in sets]),
                         np.concatenate([s.th for s in sets]),
                         np.concatenate([s.q for s in sets]),
                         np.concatenate([s.feat for s in sets]),
                         np.concatenate([s.cnt for s in sets]))


def score_packed(p: MinutiaeSet, g: PackedGallery, cfg: MatchConfig) -> np.ndarray:
    if len(g) == 0:
        return np.zeros(0, np.float64)
    return score_gallery(p.xy, p.th, p.q, p.feat, p.cnt, g.off, g.xy, g.th, g.q, g.feat,
                         g.cnt, cfg.k, cfg.tol_ld, cfg.tol_lphi, cfg.tol_ldelta, cfg.n_seeds,
                         cfg.tol_d, cfg.tol_d_slope, cfg.tol_a, cfg.min_count,
                         cfg.area_margin)


def score_pair(a: MinutiaeSet, b: MinutiaeSet, cfg: MatchConfig) -> float:
    return float(match_pair(a.xy, a.th, a.q, a.feat, a.cnt, b.xy, b.th, b.q, b.feat, b.cnt,
                            cfg.k, cfg.tol_ld, cfg.tol_lphi, cfg.tol_ldelta, cfg.n_seeds,
                            cfg.tol_d, cfg.tol_d_slope, cfg.tol_a, cfg.min_count,
                            cfg.area_margin))


# --------------------------------------------------------------------------- 1:N pre-filter

IDX_D_BINS = 12  # 0-180 px in 15 px bins
IDX_A_BINS = 8


def index_vector(mins: np.ndarray, max_d: float = 180.0) -> np.ndarray:
    """Fixed-length, rotation/translation invariant descriptor (L2-normalised float32).

    A soft histogram over all minutia pairs closer than ``max_d`` of (distance, direction
    of each minutia relative to the segment joining them) -> 12 x 8 x 8 = 768 bins, the two
    relative directions ordered so the histogram does not depend on the pair's order; the
    square root of the counts (Hellinger) is L2-normalised so a dot product compares two.
    """
    mins = np.asarray(mins, np.float64).reshape(-1, 5)
    n = len(mins)
    v = np.zeros((IDX_D_BINS, IDX_A_BINS, IDX_A_BINS), np.float32)
    if n >= 2:
        iu, ju = np.triu_indices(n, 1)
        dx = mins[ju, 0] - mins[iu, 0]
        dy = mins[ju, 1] - mins[iu, 1]
        d = np.hypot(dx, dy)
        keep = (d < max_d) & (d > 1)
        iu, ju, dx, dy, d = iu[keep], ju[keep], dx[keep], dy[keep], d[keep]
        seg = np.arctan2(dy, dx)
        a1 = np.mod(mins[iu, 2] - seg, 2 * np.pi)
        a2 = np.mod(mins[ju, 2] - seg - np.pi, 2 * np.pi)  # seen from j, segment reversed
        lo = np.minimum(a1, a2)
        hi = np.maximum(a1, a2)
        fd = d / (max_d / IDX_D_BINS) - 0.5
        fa = lo / (2 * np.pi / IDX_A_BINS) - 0.5
        fb = hi / (2 * np.pi / IDX_A_BINS) - 0.5
        for ddi in (0, 1):
            di = np.floor(fd).astype(int) + ddi
            wd = 1 - np.abs(fd - di)
            okd = (di >= 0) & (di < IDX_D_BINS)
            for dai in (0, 1):
                ai = np.floor(fa).astype(int) + dai
                wa = 1 - np.abs(fa - ai)
                for dbi in (0, 1):
                    bi = np.floor(fb).astype(int) + dbi
                    wb = 1 - np.abs(fb - bi)
                    w = (wd * wa * wb)[okd]
                    np.add.at(v, (di[okd], ai[okd] % IDX_A_BINS, bi[okd] % IDX_A_BINS), w)
    v = np.sqrt(v.ravel())
    nrm = float(np.linalg.norm(v))
    return (v / nrm if nrm > 0 else v).astype(np.float32)


__all__ = ["MatchConfig", "MinutiaeSet", "PackedGallery", "index_vector", "local_structures",
           "match_pair", "pack", "prepare", "score_gallery", "score_packed", "score_pair"]
