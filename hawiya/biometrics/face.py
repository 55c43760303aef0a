"""Face modality engine: detect, align, assess, embed (dlib ResNet), compare by cosine.

Pipeline (parameters in :class:`FaceConfig`; detection in :mod:`face_detect`, quality
measures in :mod:`face_quality`)::

    image --detect--> Detection --5-point landmarks--> aligned 150 px chip --assess-->
          QualityReport --exposure normalisation--> ResNet --> 128-D unit vector

* Detection: a cascade of dlib HOG passes (native, upsampled, lighting-normalised copy),
  then dlib's CNN detector when HOG found nothing; ``detector="cnn"`` uses the CNN only.
  Exactly one face is required.
* Alignment: dlib's 5-point landmark model (``shape_predictor_5_face_landmarks.dat``, trained
  on data licensed for commercial use; the 68-point model is deliberately not used) and
  ``get_face_chip`` (150 px, padding 0.25, the network's training alignment).
* Exposure normalisation: an under-exposed face is brightened by a luminance gamma
  (never darkened, gamma >= 0.5), see :func:`face_quality.normalise_exposure`.
* Embedding: ``dlib_face_recognition_resnet_model_v1.dat``; optionally the mean with the
  embedding of the mirrored chip (``flip=True``: a little more accurate, twice the cost;
  it is a different algorithm id, so such templates are never mixed with plain ones).
* Score: cosine similarity of L2-normalised float32 vectors, in [-1, 1], higher = more alike.

Models come from the ``face_recognition_models`` package; nothing is downloaded.
Every step is deterministic (no random jitter), so the same image gives the same template on
every machine.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import dlib
import numpy as np

from hawiya.biometrics import face_quality as fq
from hawiya.biometrics.base import QualityReport
from hawiya.biometrics.face_detect import DetectConfig, Detection, FaceDetector
from hawiya.biometrics.template import Template
from hawiya.biometrics.workers import WorkerPool, extraction_result
from hawiya.errors import (
    HawiyaError,
    InvalidImage,
    InvalidInput,
    QualityRejected,
    TemplateMismatch,
)

ALGORITHM = "dlib-resnet"
ALGORITHM_FLIP = "dlib-resnet-flip"
VERSION = 1
DIM = 128
NO_FACE = "no face found"


def model_path(name: str) -> str:
    """Path of a model file shipped in the ``face_recognition_models`` package."""
    import face_recognition_models as frm

    path = os.path.join(os.path.dirname(frm.__file__), "models", name)
    if not os.path.isfile(path):
        raise HawiyaError(f"face model {name} missing from face_recognition_models")
    return path


@dataclass(frozen=True)
class FaceConfig:
    detect: DetectConfig = field(default_factory=DetectConfig)
    quality: fq.FaceQualityConfig = field(default_factory=fq.FaceQualityConfig)
    exposure_target: float = 0.5  # face-region mean (0-1) an under-exposed face is lifted to
    exposure_min_gamma: float = 0.5
    flip: bool = False  # average with the mirrored chip's embedding (2x embedding cost)
    name: str = ""  # algorithm name set by the modality registry (else derived from flip)

    @property
    def algorithm(self) -> str:
        return self.name or (ALGORITHM_FLIP if self.flip else ALGORITHM)


@dataclass
class FaceAnalysis:
    """Everything one image yields: the report, and when a face was usable, its chip."""

    report: QualityReport
    detection: Detection | None = None
    landmarks: np.ndarray | None = None  # (5, 2) input pixels
    chip: np.ndarray | None = None  # 150x150x3 RGB, aligned, before exposure normalisation
    box: tuple[int, int, int, int] | None = None
    normalised_chip: np.ndarray | None = None  # what the network sees


def as_rgb(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(RGB HxWx3, gray HxW) uint8 views of an RGB, RGBA or gray capture."""
    import cv2

    if not isinstance(image, np.ndarray):
        raise InvalidImage("face image must be a numpy array (use hawiya.imaging.load_image)")
    if image.dtype != np.uint8:
        raise InvalidImage(f"face image must be uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        gray = np.ascontiguousarray(image)
        rgb = np.ascontiguousarray(np.dstack([gray, gray, gray]))
    elif image.ndim == 3 and image.shape[2] in (3, 4):
        rgb = np.ascontiguousarray(image[..., :3])
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    else:
        raise InvalidImage(f"face image must be HxW or HxWx3, got shape {image.shape}")
    if min(rgb.shape[:2]) < 16:
        raise InvalidImage(f"face image too small ({rgb.shape[1]}x{rgb.shape[0]})")
    return rgb, gray


class FaceEngine:
    """Face engine (Engine protocol in :mod:`hawiya.biometrics.base`)."""

    modality = "face"
    version = VERSION
    image_mode = "RGB"
    dim = DIM

    def __init__(self, config: FaceConfig | None = None):
        self.config = config or FaceConfig()
        self.algorithm = self.config.algorithm
        cnn_path = model_path("mmod_human_face_detector.dat")
        self._detector = FaceDetector(self.config.detect, cnn_path)
        self._shape = dlib.shape_predictor(model_path("shape_predictor_5_face_landmarks.dat"))
        self._net = dlib.face_recognition_model_v1(
            model_path("dlib_face_recognition_resnet_model_v1.dat"))
        self._lock = threading.Lock()  # dlib models are not documented as thread-safe
        self._workers = WorkerPool("hawiya.biometrics.face", _worker_init, (self.config,))

    @property
    def detector(self) -> str:
        return self.config.detect.detector

    # ------------------------------------------------------------------ capture
    def analyse(self, image: np.ndarray) -> FaceAnalysis:
        """Detect, align and assess one capture (no embedding)."""
        rgb, gray = as_rgb(image)
        h, w = gray.shape
        with self._lock:
            det = self._detector.detect(rgb, gray)
        base = {"image_size": [w, h], "faces": len(det.boxes), "detector_stage": det.stage}
        if not det.boxes:
            return FaceAnalysis(fq.rejected(NO_FACE, base), det)
        if len(det.boxes) > 1:
            reason = f"{len(det.boxes)} faces found; exactly one required"
            return FaceAnalysis(fq.rejected(reason, base), det)
        box = det.boxes[0]
        rect = dlib.rectangle(*box)
        with self._lock:
            shape = self._shape(rgb, rect)
            chip = dlib.get_face_chip(rgb, shape, size=fq.CHIP_SIZE, padding=0.25)
        pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        geo = fq.geometry(pts)
        expo = fq.exposure(chip)
        norm_chip, gamma = self._normalised(chip)
        sharp = fq.sharpness(norm_chip)
        reasons, subs = fq.score_face(geo, expo, sharp, self.config.quality)
        score = fq.overall_score(subs)
        metrics = {
            **base,
            "box": list(box),
            "detection_score": round(det.scores[0], 3),
            "face_width_px": box[2] - box[0],
            "iod_px": round(geo.iod_px, 1),
            "yaw_deg": round(geo.yaw_deg, 1),
            "roll_deg": round(geo.roll_deg, 1),
            "mean": round(expo["mean"], 1),
            "dark_fraction": round(expo["dark_fraction"], 3),
            "clipped_fraction": round(expo["clipped_fraction"], 3),
            "exposure_gamma": round(gamma, 3),
            "sharpness": round(sharp, 1),
            "subscores": {k: round(v, 3) for k, v in subs.items()},
        }
        report = QualityReport(ok=not reasons, score=score if not reasons else min(score, 20),
                               reasons=reasons, metrics=metrics)
        return FaceAnalysis(report, det, pts, chip, box, norm_chip)

    def _normalised(self, chip: np.ndarray) -> tuple[np.ndarray, float]:
        return fq.normalise_exposure(chip, self.config.exposure_target,
                                     self.config.exposure_min_gamma)

    def assess(self, image: np.ndarray) -> QualityReport:
        return self.analyse(image).report

    def embed_chip(self, chip: np.ndarray, normalised: bool = False) -> np.ndarray:
        """128-D unit float32 embedding of an aligned 150x150 RGB chip (``normalised``: the
        exposure normalisation was already applied)."""
        norm = chip if normalised else self._normalised(chip)[0]
        chips = [norm]
        if self.config.flip:
            chips.append(np.ascontiguousarray(norm[:, ::-1]))
        with self._lock:
            vecs = np.asarray(self._net.compute_face_descriptor(chips), dtype=np.float64)
        v = vecs.mean(axis=0) if len(vecs) > 1 else vecs[0]
        return _unit(v).astype(np.float32)

    def extract(self, image: np.ndarray, position: str = "frontal") -> Template:
        a = self.analyse(image)
        if not a.report.ok:
            raise QualityRejected("face capture rejected: " + "; ".join(a.report.reasons),
                                  reasons=a.report.reasons)
        vec = self.embed_chip(a.normalised_chip, normalised=True)
        m = a.report.metrics
        meta = {"box": list(a.box), "detector": m["detector_stage"], "iod_px": m["iod_px"],
                "yaw_deg": m["yaw_deg"], "roll_deg": m["roll_deg"]}
        return Template(modality="face", algorithm=self.algorithm, version=self.version,
                        data=vec.tobytes(), quality=a.report.score, position=position,
                        meta=meta)

    def extract_batch(self, images: Sequence[np.ndarray], workers: int | None = None,
                      position: str = "frontal") -> list[Template | HawiyaError]:
        """Templates in input order; an unusable image gives its error in its slot.

        Many images are spread over a process pool (one worker per core, models loaded
        once per worker and kept for later batches); a few run here.
        """
        items = [(img, position) for img in images]
        return [_decode_result(r) for r in self._workers.run(
            items, _worker_extract, lambda item: self._extract_safe(*item), workers)]

    def _extract_safe(self, image: np.ndarray, position: str = "frontal"
                      ) -> Template | HawiyaError:
        return extraction_result("face", self.extract, image, position)

    def close(self) -> None:
        """Stop the worker processes (they are restarted by the next large batch)."""
        self._workers.close()

    # ------------------------------------------------------------------ comparison
    def _check(self, t: Template) -> None:
        if t.modality != self.modality or t.algorithm != self.algorithm or \
                t.version != self.version:
            raise TemplateMismatch(
                f"cannot use {t.modality}:{t.algorithm_id} with this engine "
                f"(face:{self.algorithm}/{self.version}); re-extract the template")

    def vectors(self, templates: Sequence[Template]) -> np.ndarray:
        """(n, 128) float32 unit vectors; dot products are the compare() scores."""
        templates = list(templates)
        out = np.empty((len(templates), DIM), dtype=np.float32)
        for i, t in enumerate(templates):
            self._check(t)
            v = np.frombuffer(t.data, dtype=np.float32)
            if v.shape != (DIM,) or not np.all(np.isfinite(v)):
                raise InvalidInput(f"face template payload is not a {DIM}-D float32 vector")
            out[i] = v
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        if np.any(norms < 1e-6):
            raise InvalidInput("face template payload is a zero vector")
        return out / norms

    def compare(self, a: Template, b: Template) -> float:
        a.check_compatible(b)
        va, vb = self.vectors([a, b])
        return float(np.clip(np.dot(va, vb), -1.0, 1.0))

    def compare_many(self, probe: Template, gallery: Sequence[Template]) -> np.ndarray:
        gallery = list(gallery)
        for g in gallery:
            probe.check_compatible(g)
        p = self.vectors([probe])[0]
        if not gallery:
            return np.empty(0, dtype=np.float32)
        return np.clip(self.vectors(gallery) @ p, -1.0, 1.0)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    if not np.isfinite(n) or n < 1e-9:
        raise HawiyaError("face embedding failed (zero vector)")
    return v / n


# ---------------------------------------------------------------------- worker processes
_worker_engine: FaceEngine | None = None


def _worker_init(config: FaceConfig) -> None:
    global _worker_engine
    import cv2

    cv2.setNumThreads(1)
    _worker_engine = FaceEngine(config)


def _worker_extract(item: tuple) -> Template | tuple:
    image, position = item
    res = _worker_engine._extract_safe(image, position)
    if isinstance(res, HawiyaError):  # exceptions lose keyword fields when pickled
        return ("error", type(res).__name__, res.message, res.reasons)
    return res


_ERRORS = {c.__name__: c for c in (HawiyaError, InvalidInput, InvalidImage, QualityRejected,
                                   TemplateMismatch)}


def _decode_result(r: Template | tuple) -> Template | HawiyaError:
    if isinstance(r, tuple) and r and r[0] == "error":
        cls = _ERRORS.get(r[1], HawiyaError)
        return cls(r[2], reasons=r[3])
    return r


# ---------------------------------------------------------------------- factory
_engines: dict[tuple, FaceEngine] = {}
_engines_lock = threading.Lock()


def get_face_engine(detector: str = "hog", flip: bool = False) -> FaceEngine:
    """The shared engine for ``detector`` ("hog" or "cnn"); models are loaded once."""
    if detector not in ("hog", "cnn"):
        raise InvalidInput(f"unknown face detector {detector!r} (hog or cnn)")
    key = (detector, bool(flip))
    with _engines_lock:
        eng = _engines.get(key)
        if eng is None:
            cfg = FaceConfig(detect=replace(DetectConfig(), detector=detector), flip=bool(flip))
            eng = _engines[key] = FaceEngine(cfg)
        return eng


__all__ = ["ALGORITHM", "ALGORITHM_FLIP", "DIM", "VERSION", "FaceAnalysis", "FaceConfig",
           "FaceEngine", "as_rgb", "get_face_engine", "model_path"]
