"""Iris segmentation without any learned model: pupil, limbus, eyelids and noise mask.

Pipeline (each step a pure function, arrays in, arrays out):

1. ``to_work_image``: grayscale (luminance, or the red channel for visible light if asked),
   resized so the shorter side is ``work_min_side`` pixels (never upscaled).
2. ``find_reflections`` / ``fill_reflections``: specular highlights are small and much
   brighter than their surroundings (white top-hat), so they are found by contrast, not by an
   absolute grey level, dilated and inpainted (Telea). Pupil search never sees them.
3. ``find_pupil``: Daugman's integro-differential operator, coarse-to-fine. Candidate centres
   are the darkest points of a heavily smoothed image (after a grey closing that removes thin
   eyelashes); for every candidate and radius the mean intensity on the circle is sampled
   (``cv2.remap``, all candidates at once), and the pupil is the circle with the largest
   Gaussian-smoothed radial derivative of that mean (dark inside, brighter outside). No grey
   level of the pupil is assumed, so a filled CASIA V1 pupil and a real one with highlights
   are found the same way. Candidates also come from a map blurred at the large-pupil scale
   (a clump of lashes is as black as a pupil but not as wide), and the coarse search scores
   a circle by a low quantile of its per-angle jumps, so the edge must go most of the way
   round (lashes against bright skin give a strong jump on one side only).
4. ``find_limbus``: the same operator on the two lateral-lower sectors only (eyelids cover the
   top and bottom of the iris), centres near the pupil's (off-centre gaze allowed), radii in a
   range relative to the pupil's.
5. ``find_eyelids``: a search over parabolic arcs (vertex height and curvature) for the upper
   and the lower lid, maximising the 60th percentile of the vertical gradient along the arc
   inside the iris (signed for the lower lid: skin below is brighter than the iris), so a
   ring of iris texture touching the arc in one place cannot pass for a lid; an arc is kept
   only when its edge is clearly stronger than the iris texture.
6. The noise mask (reflections, outside the lids) is returned with the circles; eyelashes are
   masked later on the unwrapped texture, where iris statistics are easy to take.

Coordinates are those of the work image; ``scale`` maps them back to the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass(frozen=True)
class Circle:
    x: float
    y: float
    r: float

    def scaled(self, s: float) -> Circle:
        return Circle(self.x * s, self.y * s, self.r * s)


@dataclass(frozen=True)
class Eyelid:
    """Parabolic eyelid arc: ``y = y0 + c (x - x0)^2`` (upper lid), ``y0 - c (...)`` (lower).

    ``strength`` is the mean vertical gradient along the arc inside the iris, relative to the
    iris texture's median gradient.
    """

    x0: float
    y0: float
    c: float  # curvature (>= 0); the arc opens away from the iris centre
    upper: bool
    strength: float

    def ys(self, xs: np.ndarray) -> np.ndarray:
        d = self.c * (xs - self.x0) ** 2
        return self.y0 + d if self.upper else self.y0 - d


@dataclass
class SegmentationConfig:
    """Parameters of the segmentation steps (all lengths relative to the work image)."""

    work_min_side: int = 280
    use_red_channel: bool = False  # visible-light captures of dark irises: try True
    min_image_side: int = 64
    # specular reflections
    reflection_kernel_frac: float = 0.07  # top-hat kernel, fraction of the shorter side
    reflection_contrast: float = 45.0  # grey levels above the local background
    reflection_rel_max: float = 0.85  # and at least this fraction of the brightest pixel
    reflection_dilate: int = 2
    # pupil (radii as fractions of the shorter side)
    pupil_radius_frac: tuple[float, float] = (0.035, 0.25)
    pupil_candidates: int = 250
    pupil_wide_candidates: int = 60  # darkest points at the large-pupil scale (0: none)
    # coarse pupil search: quantile of the per-angle edge jump (< 0: Daugman's mean jump)
    pupil_edge_quantile: float = 0.3
    # limbus
    iris_radius_frac: tuple[float, float] = (0.12, 0.49)
    pupil_iris_ratio: tuple[float, float] = (0.12, 0.78)
    # max pupil-iris centre offset, times the iris radius (x, y): the lateral arcs pin the
    # horizontal position well, the vertical one poorly, so it is held closer
    limbus_center_window: tuple[float, float] = (0.10, 0.05)
    limbus_sectors_deg: tuple[tuple[float, float], ...] = ((-30.0, 50.0), (130.0, 210.0))
    limbus_edge_sigma: float = 3.0  # radial smoothing of the limbus derivative (pixels)
    # eyelids
    eyelid_curvatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6)  # times 1 / iris radius
    eyelid_min_strength: float = 3.0  # times the iris-texture median gradient
    # statistic of the gradient along an arc: a quantile (not the mean) so that a ring of
    # iris texture touching the arc at one place cannot pass for a lid crossing the iris
    eyelid_quantile: float = 0.6
    eyelid_lower_signed: bool = True  # lower lid: skin below is brighter than the iris
    n_angles: int = 64


@dataclass
class Segmentation:
    """Result of segmentation on the work image."""

    image: np.ndarray  # float32 work image, reflections filled
    scale: float  # work = input * scale
    pupil: Circle
    iris: Circle
    upper_lid: Eyelid | None
    lower_lid: Eyelid | None
    noise: np.ndarray  # bool, True = not iris texture (reflections)
    pupil_contrast: float
    iris_contrast: float
    pupil_snr: float = 0.0
    metrics: dict = field(default_factory=dict)

    def iris_region(self) -> np.ndarray:
        """Bool mask of usable iris pixels on the work image (annulus minus lids, noise)."""
        h, w = self.image.shape
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        p, i = self.pupil, self.iris
        m = ((xx - i.x) ** 2 + (yy - i.y) ** 2 <= i.r ** 2) & \
            ((xx - p.x) ** 2 + (yy - p.y) ** 2 > p.r ** 2)
        m &= ~lid_mask(self, xx, yy)
        return m & ~self.noise


def lid_mask(seg: Segmentation, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """True where (xs, ys) lies beyond an eyelid (above the upper, below the lower)."""
    out = np.zeros(np.broadcast(xs, ys).shape, dtype=bool)
    if seg.upper_lid is not None:
        out |= ys < seg.upper_lid.ys(xs)
    if seg.lower_lid is not None:
        out |= ys > seg.lower_lid.ys(xs)
    return out


class SegmentationFailed(Exception):
    """Raised with a machine-readable reason (mapped to QualityRejected by the engine)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


# --------------------------------------------------------------------------- preprocessing


def to_work_image(image: np.ndarray, cfg: SegmentationConfig) -> tuple[np.ndarray, float]:
    """Grayscale float32 work image and the scale factor work/input."""
    img = np.asarray(image)
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 3:
        if img.shape[2] == 1:
            g = img[:, :, 0]
        elif cfg.use_red_channel:
            g = img[:, :, 0]
        else:
            g = cv2.cvtColor(np.ascontiguousarray(img[:, :, :3]), cv2.COLOR_RGB2GRAY)
    elif img.ndim == 2:
        g = img
    else:
        raise SegmentationFailed("bad_input", f"expected an HxW or HxWx3 image, got {img.shape}")
    h, w = g.shape
    if min(h, w) < cfg.min_image_side:
        raise SegmentationFailed("image_too_small",
                                 f"image {w}x{h} is too small for iris recognition")
    scale = min(1.0, cfg.work_min_side / min(h, w))
    if scale < 1.0:
        g = cv2.resize(g, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return g.astype(np.float32), scale


def find_reflections(g: np.ndarray, cfg: SegmentationConfig) -> np.ndarray:
    """Bool mask of specular highlights: small spots far brighter than their surroundings."""
    k = max(5, int(round(cfg.reflection_kernel_frac * min(g.shape))) | 1)
    ker = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    tophat = cv2.morphologyEx(g, cv2.MORPH_TOPHAT, ker)
    # a highlight is both locally contrasted and among the brightest pixels of the image
    bright = max(float(np.percentile(g, 99.0)), cfg.reflection_rel_max * float(g.max()))
    m = ((tophat > cfg.reflection_contrast) & (g >= bright)).astype(np.uint8)
    if cfg.reflection_dilate > 0:
        d = 2 * cfg.reflection_dilate + 1
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (d, d)))
    return m.astype(bool)


def fill_reflections(g: np.ndarray, mask: np.ndarray) -> np.ndarray:
    if not mask.any():
        return g
    u8 = np.clip(g, 0, 255).astype(np.uint8)
    return cv2.inpaint(u8, mask.astype(np.uint8), 5, cv2.INPAINT_TELEA).astype(np.float32)


# --------------------------------------------------------------------------- IDO


def _circle_means(img: np.ndarray, cx: np.ndarray, cy: np.ndarray, radii: np.ndarray,
                  angles: np.ndarray, per_angle: bool = False) -> np.ndarray:
    """Mean of ``img`` on circles: (n_centres, n_radii), sampled bilinearly at ``angles``
    (with ``per_angle`` the samples themselves, (n_centres, n_radii, n_angles))."""
    cos, sin = np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)
    r = radii.astype(np.float32)
    mx = cx.astype(np.float32)[:, None, None] + r[None, :, None] * cos[None, None, :]
    my = cy.astype(np.float32)[:, None, None] + r[None, :, None] * sin[None, None, :]
    shp = mx.shape
    mx = mx.reshape(-1, shp[2])
    my = my.reshape(-1, shp[2])
    vals = np.empty(mx.shape, np.float32)
    step = 32000 // shp[2] + 1  # cv2.remap wants < 32767 rows
    for s in range(0, mx.shape[0], step):
        vals[s:s + step] = cv2.remap(img, mx[s:s + step], my[s:s + step], cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE)
    vals = vals.reshape(shp)
    return vals if per_angle else vals.mean(axis=2)


def _radial_derivative(means: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Gaussian-smoothed d/dr of circle means, same shape (edges padded)."""
    d = np.zeros_like(means)
    d[:, 1:-1] = (means[:, 2:] - means[:, :-2]) * 0.5
    if sigma > 0:
        d = _gauss1d_rows(d, sigma)
    d[:, :2] = -np.inf
    d[:, -2:] = -np.inf
    return d


def _gauss1d_rows(a: np.ndarray, sigma: float) -> np.ndarray:
    r = max(1, int(3 * sigma))
    x = np.arange(-r, r + 1, dtype=np.float32)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    k /= k.sum()
    return cv2.filter2D(a.astype(np.float32), -1, k[None, :], borderType=cv2.BORDER_REPLICATE)


def _best_circle(img: np.ndarray, cx: np.ndarray, cy: np.ndarray, radii: np.ndarray,
                 angles: np.ndarray, rmin_per_centre: np.ndarray | None = None,
                 sigma: float = 1.0, quantile: float = -1.0) -> tuple[float, float, float, float]:
    """Integro-differential maximum: (x, y, r, jump in grey levels per pixel).

    With ``quantile`` in [0, 1] the jump of a circle is that quantile of the per-angle jumps
    instead of the jump of the mean: an edge must go most of the way round, so a lash or
    lid fold that is dark against bright skin on one side only cannot pass for a pupil.
    """
    if quantile < 0:
        d = _radial_derivative(_circle_means(img, cx, cy, radii, angles), sigma)
    else:
        v = _circle_means(img, cx, cy, radii, angles, per_angle=True)
        nc, nr, na = v.shape
        per = _radial_derivative(v.transpose(0, 2, 1).reshape(nc * na, nr), sigma)
        per = per.reshape(nc, na, nr)
        k = int(round(quantile * (na - 1)))
        d = np.partition(per, k, axis=1)[:, k, :]
    if rmin_per_centre is not None:
        d[radii[None, :] < rmin_per_centre[:, None]] = -np.inf
    idx = int(np.argmax(d))
    ci, ri = divmod(idx, d.shape[1])
    return float(cx[ci]), float(cy[ci]), float(radii[ri]), float(d[ci, ri])


# --------------------------------------------------------------------------- pupil / limbus


def find_pupil(g: np.ndarray, cfg: SegmentationConfig) -> tuple[Circle, float]:
    """Pupil circle and its edge contrast (mean radial jump in grey levels)."""
    h, w = g.shape
    side = min(h, w)
    rmin = max(4.0, cfg.pupil_radius_frac[0] * side)
    rmax = cfg.pupil_radius_frac[1] * side
    # remove thin dark lashes, then look for the darkest blobs at half resolution
    k = max(3, int(round(rmin * 0.5)) | 1)
    closed = cv2.morphologyEx(g, cv2.MORPH_CLOSE,
                              cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    half = cv2.resize(closed, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    hs = cv2.GaussianBlur(half, (0, 0), 1.0)
    dark = cv2.GaussianBlur(half, (0, 0), max(1.0, rmin / 2 / 2))
    m = int(np.ceil(rmin / 2)) + 1
    ys, xs = np.mgrid[m:half.shape[0] - m:2, m:half.shape[1] - m:2]
    ys, xs = ys.ravel(), xs.ravel()
    if xs.size == 0:
        raise SegmentationFailed("image_too_small", "image too small to hold a pupil")
    order = np.argsort(dark[ys, xs], kind="stable")[: cfg.pupil_candidates]
    if cfg.pupil_wide_candidates > 0:
        # a pupil and a clump of lashes are equally black, and ties would fill the list in
        # raster order from the top of the frame: also take the darkest points at a scale
        # near the largest pupil, where only a wide dark disc stays black
        wide = cv2.GaussianBlur(half, (0, 0), max(2.0, rmax / 2 / 3))
        more = np.argsort(wide[ys, xs], kind="stable")[: cfg.pupil_wide_candidates]
        order = np.unique(np.concatenate([order, more]))
    cx, cy = xs[order].astype(np.float32), ys[order].astype(np.float32)
    radii = np.arange(rmin / 2, rmax / 2 + 1, 1.0, dtype=np.float32)
    angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    x, y, r, _ = _best_circle(hs, cx, cy, radii, angles, sigma=1.0,
                              quantile=cfg.pupil_edge_quantile)
    # refine at full resolution around the coarse answer
    gs = cv2.GaussianBlur(closed, (0, 0), 1.0)
    oy, ox = np.mgrid[-3:4, -3:4]
    cx = (2 * x + ox.ravel()).astype(np.float32)
    cy = (2 * y + oy.ravel()).astype(np.float32)
    radii = np.arange(max(rmin, 2 * r - 6), min(rmax, 2 * r + 6) + 0.5, 0.5, dtype=np.float32)
    angles = np.linspace(0, 2 * np.pi, 96, endpoint=False)
    x, y, r, jump = _best_circle(gs, cx, cy, radii, angles, sigma=1.5)
    return Circle(x, y, r), jump


def _sector_angles(sectors: tuple[tuple[float, float], ...], n: int) -> np.ndarray:
    parts = [np.deg2rad(np.linspace(a, b, n // len(sectors))) for a, b in sectors]
    return np.concatenate(parts)


def find_limbus(g: np.ndarray, pupil: Circle, cfg: SegmentationConfig) -> tuple[Circle, float]:
    """Iris outer boundary (limbus) and its edge contrast."""
    h, w = g.shape
    side = min(h, w)
    lo = max(cfg.iris_radius_frac[0] * side, pupil.r / cfg.pupil_iris_ratio[1])
    hi = min(cfg.iris_radius_frac[1] * side, pupil.r / cfg.pupil_iris_ratio[0])
    if hi <= lo + 2:
        raise SegmentationFailed("no_eye_found", "no room for an iris around the pupil")
    angles = _sector_angles(cfg.limbus_sectors_deg, 48)
    # coarse: half resolution, centres on a grid near the pupil centre
    half = cv2.GaussianBlur(cv2.resize(g, (w // 2, h // 2), interpolation=cv2.INTER_AREA),
                            (0, 0), 1.5)
    wx, wy = (max(1.0, f * (lo + hi) / 2 / 2) for f in cfg.limbus_center_window)
    oy, ox = np.meshgrid(np.arange(-wy, wy + 0.01, 1.0), np.arange(-wx, wx + 0.01, 1.0),
                         indexing="ij")
    cx = (pupil.x / 2 + ox.ravel()).astype(np.float32)
    cy = (pupil.y / 2 + oy.ravel()).astype(np.float32)
    radii = np.arange(lo / 2, hi / 2 + 1, 1.0, dtype=np.float32)
    dist = np.hypot(cx - pupil.x / 2, cy - pupil.y / 2)
    x, y, r, _ = _best_circle(half, cx, cy, radii, angles,
                              rmin_per_centre=dist + pupil.r / 2 * 1.15 + 1,
                              sigma=cfg.limbus_edge_sigma / 2)
    gs = cv2.GaussianBlur(g, (0, 0), 2.0)
    oy, ox = np.mgrid[-2:3, -2:3]
    cx = (2 * x + ox.ravel()).astype(np.float32)
    cy = (2 * y + oy.ravel()).astype(np.float32)
    radii = np.arange(max(lo, 2 * r - 4), min(hi, 2 * r + 4) + 0.5, 0.5, dtype=np.float32)
    dist = np.hypot(cx - pupil.x, cy - pupil.y)
    angles = _sector_angles(cfg.limbus_sectors_deg, 96)
    x, y, r, jump = _best_circle(gs, cx, cy, radii, angles,
                                 rmin_per_centre=dist + pupil.r * 1.15 + 2,
                                 sigma=cfg.limbus_edge_sigma)
    return Circle(x, y, r), jump


# --------------------------------------------------------------------------- eyelids


def find_eyelids(g: np.ndarray, pupil: Circle, iris: Circle, cfg: SegmentationConfig
                 ) -> tuple[Eyelid | None, Eyelid | None]:
    """Upper and lower eyelid arcs that cut into the iris (None where the lid is clear)."""
    gs = cv2.GaussianBlur(g, (0, 0), 2.0)
    gys = cv2.Sobel(gs, cv2.CV_32F, 0, 1, ksize=3)
    gy = np.abs(gys)
    gy_low = np.maximum(gys, 0.0) if cfg.eyelid_lower_signed else gy
    h, w = g.shape
    xs = np.linspace(iris.x - iris.r, iris.x + iris.r, 72, dtype=np.float32)
    # texture reference: median vertical gradient in the lateral iris
    yy, xx = np.mgrid[0:h, 0:w]
    rr = np.hypot(xx - iris.x, yy - iris.y)
    rp = np.hypot(xx - pupil.x, yy - pupil.y)
    ring = (rr < iris.r - 2) & (rp > pupil.r + 3) & (np.abs(yy - iris.y) < iris.r * 0.35)
    ref = float(np.median(gy[ring])) if ring.any() else 1.0
    ref = max(ref, 1.0)
    out: list[Eyelid | None] = []
    for upper in (True, False):
        sgn = -1.0 if upper else 1.0
        # vertex from the limbus (no occlusion) to the pupil centre (half-closed eye)
        start = iris.y + sgn * (iris.r + 2)
        stop = pupil.y - pupil.r * 0.3 if upper else pupil.y + pupil.r + 2
        y0s = np.arange(min(start, stop), max(start, stop) + 0.1, 1.0, dtype=np.float32)
        best = (-1.0, None)
        for c_rel in cfg.eyelid_curvatures:
            c = c_rel / iris.r
            d = c * (xs - iris.x) ** 2
            ys = y0s[:, None] + (d if upper else -d)[None, :]
            X = np.broadcast_to(xs[None, :], ys.shape)
            inside = ((X - iris.x) ** 2 + (ys - iris.y) ** 2 < (iris.r - 5) ** 2) & \
                     ((X - pupil.x) ** 2 + (ys - pupil.y) ** 2 > (pupil.r + 7) ** 2) & \
                     (ys >= 1) & (ys < h - 1)
            vals = cv2.remap(gy if upper else gy_low, np.ascontiguousarray(X, dtype=np.float32),
                             np.ascontiguousarray(ys, dtype=np.float32), cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
            cnt = inside.sum(axis=1)
            score = _arc_statistic(vals, inside, cfg.eyelid_quantile)
            score = np.where(cnt >= 10, score, 0.0)
            i = int(np.argmax(score))
            if score[i] > best[0]:
                best = (float(score[i]), Eyelid(float(iris.x), float(y0s[i]), float(c), upper,
                                                 float(score[i]) / ref))
        lid = best[1]
        if lid is None or lid.strength < cfg.eyelid_min_strength:
            out.append(None)
        else:
            out.append(lid)
    return out[0], out[1]


def _arc_statistic(vals: np.ndarray, inside: np.ndarray, q: float) -> np.ndarray:
    """Per-row quantile ``q`` of ``vals`` where ``inside`` (the mean when q < 0)."""
    if q < 0:
        return (vals * inside).sum(axis=1) / np.maximum(inside.sum(axis=1), 1)
    v = np.where(inside, vals, np.inf)
    v.sort(axis=1)
    cnt = inside.sum(axis=1)
    k = np.clip(np.floor(q * (cnt - 1)).astype(np.int64), 0, vals.shape[1] - 1)
    return np.where(cnt > 0, np.take_along_axis(v, k[:, None], axis=1)[:, 0], 0.0)


# --------------------------------------------------------------------------- driver


def segment(image: np.ndarray, cfg: SegmentationConfig) -> Segmentation:
    g0, scale = to_work_image(image, cfg)
    if float(g0.std()) < 3.0:
        raise SegmentationFailed("no_eye_found", "blank image: no eye found")
    refl = find_reflections(g0, cfg)
    g = fill_reflections(g0, refl)
    pupil, pj = find_pupil(g, cfg)
    iris, ij = find_limbus(g, pupil, cfg)
    upper, lower = find_eyelids(g, pupil, iris, cfg)
    ps = edge_support(g, pupil, ((0.0, 360.0),))
    ls = edge_support(g, iris, cfg.limbus_sectors_deg)
    metrics = {"pupil_edge_support": round(ps, 3), "limbus_edge_support": round(ls, 3),
               "segmentation_confidence": round(min(ps, ls), 3)}
    return Segmentation(image=g, scale=scale, pupil=pupil, iris=iris, upper_lid=upper,
                        lower_lid=lower, noise=refl, pupil_contrast=pj, iris_contrast=ij,
                        pupil_snr=pupil_snr(g, pupil, iris), metrics=metrics)


def edge_support(g: np.ndarray, c: Circle, sectors: tuple[tuple[float, float], ...],
                 n: int = 96, band: float = 3.0, min_jump: float = 2.0) -> float:
    """Fraction of directions (within ``sectors``) where the circle sits on a dark-to-bright
    edge: a confidence that the boundary was really found, whatever the sensor's contrast."""
    ang = _sector_angles(sectors, n)
    gs = cv2.GaussianBlur(g, (0, 0), 1.0)
    radii = np.array([max(1.0, c.r - band), c.r + band], np.float32)
    v = _circle_means(gs, np.array([c.x]), np.array([c.y]), radii, ang, per_angle=True)[0]
    return float(np.mean(v[1] - v[0] > min_jump))


def pupil_snr(g: np.ndarray, pupil: Circle, iris: Circle) -> float:
    """(iris mean - pupil mean) / pupil std: a real pupil is a dark, even disc."""
    h, w = g.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rp = np.hypot(xx - pupil.x, yy - pupil.y)
    inner = rp < pupil.r * 0.8
    ring = (rp > pupil.r + 2) & (rp < pupil.r + 0.5 * (iris.r - pupil.r))
    if inner.sum() < 10 or ring.sum() < 10:
        return 0.0
    return float((np.median(g[ring]) - g[inner].mean()) / (g[inner].std() + 1.0))
