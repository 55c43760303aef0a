"""Face detection cascade: cheap first, harder passes only when nothing was found.

Stages, stopping at the first that finds any face (each stage's count is final, so two
faces found by the first pass are reported as two faces, never "fixed" by a later pass):

1. ``hog``: dlib's HOG frontal detector on the working image (large images are first
   downscaled so their longer side is at most ``max_side``; images at most half that size
   are searched upsampled 2x, which places the box more precisely on small faces);
2. ``hog``: the same at the other scale (native for small images, 2x for large ones);
3. ``hog-light``: the same two passes on a lighting-normalised copy (gamma 0.5 to lift
   shadows, then CLAHE), which recovers faces half in shadow under hard side light;
4. ``cnn``: dlib's MMOD CNN detector on the image scaled to at most ``cnn_max_side``
   (optional, on by default; slower, more tolerant of pose and light).

With ``detector="cnn"`` the CNN runs first and the HOG passes are not used.
Boxes are returned in the input image's pixel coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import dlib
import numpy as np


@dataclass(frozen=True)
class DetectConfig:
    detector: str = "hog"  # "hog" or "cnn"
    max_side: int = 1024  # working resolution for detection
    upsample_retry: bool = True
    lighting_retry: bool = True
    cnn_fallback: bool = True  # with detector="hog": CNN when every HOG pass found nothing
    cnn_max_side: int = 480  # the CNN's working resolution (its cost grows with the area)
    hog_threshold: float = 0.0  # dlib's default decision threshold
    cnn_threshold: float = 0.0

    def __post_init__(self) -> None:
        if self.detector not in ("hog", "cnn"):
            raise ValueError(f"unknown face detector {self.detector!r} (hog or cnn)")
        if self.max_side < 64 or self.cnn_max_side < 64:
            raise ValueError("detection working sizes must be at least 64 px")


@dataclass(frozen=True)
class Detection:
    boxes: list[tuple[int, int, int, int]]  # (left, top, right, bottom), input pixels
    scores: list[float]
    stage: str  # which pass found them ("" when none did)


def _resize(img: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Image scaled down so its longer side <= max_side, and the scale factor applied."""
    h, w = img.shape[:2]
    s = min(1.0, max_side / float(max(h, w)))
    if s >= 1.0:
        return img, 1.0
    out = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))),
                     interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(out), s


def lighting_normalised(gray: np.ndarray) -> np.ndarray:
    """Shadows lifted (gamma 0.5) then local contrast equalised (CLAHE 2.0, 8x8 tiles)."""
    lut = np.clip(255.0 * (np.arange(256) / 255.0) ** 0.5 + 0.5, 0, 255).astype(np.uint8)
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    return clahe.apply(lut[gray])


class FaceDetector:
    """The cascade above, holding the dlib models it needs (load once, reuse)."""

    def __init__(self, config: DetectConfig, cnn_model_path: str | None):
        if config.detector not in ("hog", "cnn"):
            raise ValueError(f"unknown face detector {config.detector!r} (hog or cnn)")
        self.config = config
        self._hog = dlib.get_frontal_face_detector()
        self._cnn_path = cnn_model_path
        self._cnn = None
        if config.detector == "cnn":
            self._load_cnn()

    def _load_cnn(self):
        if self._cnn is None:
            if not self._cnn_path:
                raise ValueError("CNN face detector model not available")
            self._cnn = dlib.cnn_face_detection_model_v1(self._cnn_path)
        return self._cnn

    def _run_hog(self, img: np.ndarray, upsample: int) -> tuple[list, list[float]]:
        rects, scores, _ = self._hog.run(img, upsample, self.config.hog_threshold)
        return list(rects), [float(s) for s in scores]

    def _run_cnn(self, rgb: np.ndarray) -> tuple[list, list[float]]:
        # no upsampling: the CNN finds faces from ~80 px at this resolution; its cost on a
        # 480 px image (~0.3-0.5 s on a laptop core) bounds the time spent on a face-less image
        img, s = _resize(rgb, self.config.cnn_max_side)
        dets = self._load_cnn()(img, 0)
        keep = [d for d in dets if d.confidence >= self.config.cnn_threshold]
        rects = [dlib.rectangle(int(d.rect.left() / s), int(d.rect.top() / s),
                                int(d.rect.right() / s), int(d.rect.bottom() / s)) for d in keep]
        return rects, [float(d.confidence) for d in keep]

    def detect(self, rgb: np.ndarray, gray: np.ndarray) -> Detection:
        cfg = self.config
        if cfg.detector == "cnn":
            rects, scores = self._run_cnn(rgb)
            return _detection(rects, scores, "cnn" if rects else "")
        work, s = _resize(gray, cfg.max_side)
        # small images are searched at twice their size first (finer box placement)
        first = 1 if max(work.shape[:2]) * 2 <= cfg.max_side else 0
        ups = [first, 1 - first] if cfg.upsample_retry else [first]
        passes: list[tuple[str, np.ndarray, int]] = [("hog", work, u) for u in ups]
        if cfg.lighting_retry:
            norm = lighting_normalised(work)
            passes += [("hog-light", norm, u) for u in ups]
        for stage, img, up in passes:
            rects, scores = self._run_hog(img, up)
            if rects:
                rects = [dlib.rectangle(int(r.left() / s), int(r.top() / s),
                                        int(r.right() / s), int(r.bottom() / s)) for r in rects]
                return _detection(rects, scores, stage)
        if cfg.cnn_fallback and self._cnn_path:
            rects, scores = self._run_cnn(rgb)
            if rects:
                return _detection(rects, scores, "cnn")
        return Detection([], [], "")


def _detection(rects: list, scores: list[float], stage: str) -> Detection:
    order = sorted(range(len(rects)), key=lambda i: -rects[i].width() * rects[i].height())
    return Detection([(rects[i].left(), rects[i].top(), rects[i].right(), rects[i].bottom())
                      for i in order], [scores[i] for i in order], stage)


__all__ = ["DetectConfig", "Detection", "FaceDetector", "lighting_normalised"]
