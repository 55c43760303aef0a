"""Iris modality engine: classical segmentation, log-Gabor iris codes, Hamming matching.

Pipeline (one small stage per module, typed results between them, parameters in
:class:`IrisConfig`)::

    image --segment--> Segmentation --normalize--> NormalizedIris --encode--> IrisCode
          (iris_segmentation)          (iris_normalization)        (iris_encoding)
    IrisCode x IrisCode --iris_matching--> score

Segmentation uses no downloaded model: specular highlights are found by local contrast and
inpainted, the pupil and limbus by Daugman's integro-differential operator (coarse to fine),
the eyelids by a search over parabolic arcs, eyelashes by robust intensity statistics.

Code (defaults, ``hawiya-iris-loggabor`` version 1):

* rubber sheet 64 (radial) x 512 (angular) texture, 3%-97% of the pupil->limbus span;
* two 1-D log-Gabor filters along the angle, wavelengths 24 and 48 texture pixels
  (sigma/f0 = 0.5), Gaussian across rows (sigma 2.5 px);
* sampled on 8 rings x 128 angular positions (2.8125 degrees apart), 2 phase bits per
  filter -> 4 planes x 1024 = **4096 code bits + 1024 mask bits (640 bytes)**; a mask bit
  (shared by the 4 bits of its position) is set where the filter footprint is >= 85%
  valid iris and the response is not among the 10% weakest;
* template payload: 16-byte layout header (``b"HIRC"``, layout version, planes, rings,
  positions, words per plane) then 4 x 16 code words and 16 mask words (uint64, LE).

Matching: fractional Hamming distance over bits valid in both masks, best of the circular
shifts -8..+8 positions (+-22.5 degrees, 17 shifts), Daugman's normalisation
``hd_n = 0.5 - (0.5 - hd) * sqrt(n / 2048)`` with ``n`` the bits compared (2048 = half the
code, typical for two good captures), at least 256 common valid positions (1024 bits)
else a non-match (score 0). Score = ``1 - hd_n`` clipped to [0, 1]; see
:mod:`hawiya.biometrics.iris_matching`.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from hawiya.biometrics.base import QualityReport
from hawiya.biometrics.iris_encoding import EncodingConfig, IrisCode, encode
from hawiya.biometrics.iris_matching import (
    MatchConfig,
    pack_bits,
    scores_packed,
    shifted_probe,
    unpack_bits,
)
from hawiya.biometrics.iris_normalization import NormalizationConfig, NormalizedIris, normalize
from hawiya.biometrics.iris_segmentation import (
    Segmentation,
    SegmentationConfig,
    SegmentationFailed,
    lid_mask,
    segment,
)
from hawiya.biometrics.template import Template
from hawiya.biometrics.workers import (
    WorkerPool,
    extraction_result,
    single_threaded_opencv,
)
from hawiya.errors import HawiyaError, InvalidInput, QualityRejected

ALGORITHM = "hawiya-iris-loggabor"
VERSION = 1
POSITIONS = ("left-iris", "right-iris", "unknown")
LAYOUT_MAGIC = b"HIRC"
LAYOUT_VERSION = 1
_LAYOUT = struct.Struct("<4sBBHHHxxxx")  # 16 bytes: words stay 8-byte aligned


@dataclass
class QualityConfig:
    min_iris_radius_px: float = 40.0  # in input pixels
    min_pupil_contrast: float = 2.0  # grey levels per pixel across the pupil edge
    min_pupil_snr: float = 1.5  # (iris - pupil) / pupil std: a dark, even disc
    min_iris_contrast: float = 0.25  # grey levels per pixel across the limbus
    min_focus: float = 26.0  # fine-scale energy share in the iris, see _focus
    good_focus: float = 40.0
    min_usable_fraction: float = 0.25  # of code positions
    max_occlusion: float = 0.70  # fraction of the iris annulus behind the eyelids
    max_gaze_offset: float = 0.25  # pupil-iris centre offset / iris radius (reported)


@dataclass
class IrisConfig:
    segmentation: SegmentationConfig = field(default_factory=SegmentationConfig)
    normalization: NormalizationConfig = field(default_factory=NormalizationConfig)
    encoding: EncodingConfig = field(default_factory=lambda: EncodingConfig(
        wavelengths=(24.0, 48.0)))
    matching: MatchConfig = field(default_factory=lambda: MatchConfig(
        max_shift=8, n_ref=2048.0, min_overlap=256))
    quality: QualityConfig = field(default_factory=QualityConfig)
    name: str = ""  # algorithm name set by the modality registry (else ALGORITHM)

    @property
    def algorithm(self) -> str:
        return self.name or ALGORITHM


@dataclass
class IrisAnalysis:
    """Every intermediate result of one capture (for the quality report and debugging)."""

    segmentation: Segmentation | None
    normalized: NormalizedIris | None
    code: IrisCode | None
    report: QualityReport


# --------------------------------------------------------------------------- template codec


def encode_payload(code: IrisCode) -> bytes:
    planes, rings, positions = code.code.shape
    words = rings * positions // 64
    head = _LAYOUT.pack(LAYOUT_MAGIC, LAYOUT_VERSION, planes, rings, positions, words)
    return head + pack_bits(code.code).astype("<u8").tobytes() + \
        pack_bits(code.mask).astype("<u8").tobytes()


def decode_payload(data: bytes) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int]]:
    """Packed (code (planes, W), mask (W,)) words and (planes, rings, positions)."""
    if len(data) < _LAYOUT.size:
        raise InvalidInput("iris template payload too short")
    magic, ver, planes, rings, positions, words = _LAYOUT.unpack_from(data)
    if magic != LAYOUT_MAGIC or ver != LAYOUT_VERSION:
        raise InvalidInput("not an iris code payload (bad layout header)")
    if words * 64 != rings * positions or planes < 1 or words < 1:
        raise InvalidInput("inconsistent iris code layout")
    need = _LAYOUT.size + 8 * words * (planes + 1)
    if len(data) != need:
        raise InvalidInput(f"iris template payload is {len(data)} bytes, expected {need}")
    arr = np.frombuffer(data, dtype="<u8", offset=_LAYOUT.size).astype(np.uint64)
    return arr[:planes * words].reshape(planes, words), arr[planes * words:], \
        (planes, rings, positions)


def template_code(t: Template) -> IrisCode:
    """Unpacked IrisCode of a template (for inspection and tests)."""
    code, mask, (planes, rings, positions) = decode_payload(t.data)
    return IrisCode(unpack_bits(code, rings, positions), unpack_bits(mask, rings, positions))


# --------------------------------------------------------------------------- quality


def _focus(seg: Segmentation) -> float:
    """Share (0-100) of fine-scale energy in the visible iris: 100 * hi / (hi + mid).

    ``hi`` is the RMS of a difference of Gaussians at sigma 1-2 px, ``mid`` at 2-4 px; a
    blurred capture loses the fine band first (sharp CASIA captures ~45-55, Gaussian blur
    sigma 2 ~33, sigma 4 ~25, the floor for a featureless image ~22). A ratio, so it does
    not depend on contrast or exposure.
    """
    region = seg.iris_region()
    if region.sum() < 50:
        return 0.0
    g = seg.image
    g1, g2, g4 = (cv2.GaussianBlur(g, (0, 0), s) for s in (1.0, 2.0, 4.0))
    hi = float(np.sqrt(np.mean((g1 - g2)[region] ** 2)))
    mid = float(np.sqrt(np.mean((g2 - g4)[region] ** 2)))
    return 100.0 * hi / (hi + mid + 1e-6)


def _occlusion(seg: Segmentation) -> float:
    h, w = seg.image.shape
    p, i = seg.pupil, seg.iris
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ann = ((xx - i.x) ** 2 + (yy - i.y) ** 2 <= i.r ** 2) & \
        ((xx - p.x) ** 2 + (yy - p.y) ** 2 > p.r ** 2)
    if not ann.any():
        return 1.0
    return float((lid_mask(seg, xx, yy) & ann).sum() / ann.sum())


def _report(seg: Segmentation, norm: NormalizedIris, code: IrisCode, q: QualityConfig
            ) -> QualityReport:
    p, i = seg.pupil, seg.iris
    focus = _focus(seg)
    occl = _occlusion(seg)
    usable = code.valid_fraction
    gaze = float(np.hypot(p.x - i.x, p.y - i.y) / i.r)
    iris_r_in = i.r / seg.scale
    metrics = {
        "pupil": [round(p.x / seg.scale, 2), round(p.y / seg.scale, 2),
                  round(p.r / seg.scale, 2)],
        "iris": [round(i.x / seg.scale, 2), round(i.y / seg.scale, 2), round(iris_r_in, 2)],
        "iris_radius_px": round(iris_r_in, 1),
        "pupil_iris_ratio": round(p.r / i.r, 3),
        "gaze_offset": round(gaze, 3),
        "focus": round(focus, 2),
        "occlusion": round(occl, 3),
        "usable_iris_fraction": round(usable, 3),
        "texture_usable_fraction": round(norm.usable_fraction, 3),
        "pupil_contrast": round(seg.pupil_contrast, 2),
        "pupil_snr": round(seg.pupil_snr, 2),
        "iris_contrast": round(seg.iris_contrast, 3),
        "reflection_fraction": round(float(seg.noise.mean()), 4),
        **seg.metrics,
        "upper_eyelid": seg.upper_lid is not None,
        "lower_eyelid": seg.lower_lid is not None,
    }
    reasons = []
    if seg.pupil_contrast < q.min_pupil_contrast or seg.iris_contrast < q.min_iris_contrast \
            or seg.pupil_snr < q.min_pupil_snr:
        reasons.append("no_eye_found")
    if iris_r_in < q.min_iris_radius_px:
        reasons.append("iris_too_small")
    if occl > q.max_occlusion:
        reasons.append("eye_closed")
    if focus < q.min_focus:
        reasons.append("out_of_focus")
    if usable < q.min_usable_fraction:
        reasons.append("too_little_usable_iris")
    warnings = []
    if gaze > q.max_gaze_offset:
        warnings.append("off_centre_gaze")
    metrics["warnings"] = warnings
    f_focus = min(1.0, max(0.0, (focus - q.min_focus) / (q.good_focus - q.min_focus)))
    f_usable = min(1.0, usable / 0.7)
    f_size = min(1.0, iris_r_in / 100.0)
    score = int(round(100 * (0.5 * f_usable + 0.3 * f_focus + 0.2 * f_size)))
    if reasons:
        score = min(score, 20)
    return QualityReport(ok=not reasons, score=max(0, min(100, score)), reasons=reasons,
                         metrics=metrics)


def analyse(image: np.ndarray, cfg: IrisConfig) -> IrisAnalysis:
    """Run the whole pipeline on one image; failures become a QualityReport, never raise."""
    try:
        img = np.asarray(image)
        if img.dtype.kind not in "uif" or img.ndim not in (2, 3) or img.size == 0:
            raise SegmentationFailed("bad_input", "expected an HxW or HxWx3 uint8 image")
        seg = segment(img, cfg.segmentation)
        norm = normalize(seg, cfg.normalization)
        code = encode(norm, cfg.encoding)
    except SegmentationFailed as exc:
        return IrisAnalysis(None, None, None, QualityReport(
            ok=False, score=0, reasons=[exc.reason], metrics={"message": str(exc)}))
    return IrisAnalysis(seg, norm, code, _report(seg, norm, code, cfg.quality))


def _extract_one(image: np.ndarray, position: str, cfg: IrisConfig) -> Template:
    if position not in POSITIONS:
        raise InvalidInput(f"iris position must be one of {POSITIONS}, got {position!r}")
    a = analyse(image, cfg)
    if not a.report.ok or a.code is None:
        msg = a.report.metrics.get("message") or ", ".join(a.report.reasons)
        raise QualityRejected(f"iris capture unusable: {msg}", reasons=a.report.reasons)
    m = a.report.metrics
    meta = {k: m[k] for k in _META_KEYS if k in m}
    return Template(modality="iris", algorithm=cfg.algorithm, version=VERSION,
                    data=encode_payload(a.code), quality=a.report.score, position=position,
                    meta=meta)


# quality measures kept with the template, so a gate can be tuned later from stored data
_META_KEYS = ("pupil", "iris", "usable_iris_fraction", "focus", "occlusion", "gaze_offset",
              "pupil_iris_ratio", "segmentation_confidence")


def _worker_extract(args: tuple) -> Template | HawiyaError:
    image, position, cfg = args
    return extraction_result("iris", _extract_one, image, position, cfg)




# --------------------------------------------------------------------------- engine


class IrisEngine:
    """Iris engine (Engine protocol in :mod:`hawiya.biometrics.base`)."""

    modality = "iris"
    algorithm = ALGORITHM
    version = VERSION
    image_mode = "RGB"

    def __init__(self, config: IrisConfig | None = None):
        self.config = config or IrisConfig()
        self.algorithm = self.config.algorithm
        self._workers = WorkerPool("hawiya.biometrics.iris", single_threaded_opencv)

    # -- capture
    def analyse(self, image: np.ndarray) -> IrisAnalysis:
        return analyse(image, self.config)

    def assess(self, image: np.ndarray) -> QualityReport:
        return analyse(image, self.config).report

    def extract(self, image: np.ndarray, position: str = "unknown") -> Template:
        return _extract_one(image, position, self.config)

    def extract_batch(self, images: Sequence[np.ndarray], workers: int | None = None,
                      position: str = "unknown") -> list[Template | HawiyaError]:
        """Templates in input order; an unusable image gives its error in its slot."""
        items = [(img, position, self.config) for img in images]
        return self._workers.run(items, _worker_extract, workers=workers)

    def close(self) -> None:
        self._workers.close()

    # -- comparison
    def _check(self, t: Template) -> None:
        if t.modality != self.modality or t.algorithm != self.algorithm or \
                t.version != self.version:
            probe = Template(modality="iris", algorithm=self.algorithm, version=self.version,
                             data=b"")
            probe.check_compatible(t)

    def packed(self, templates: Sequence[Template]) -> tuple[np.ndarray, np.ndarray]:
        """Gallery arrays (N, planes, W) and (N, W) of ``templates``."""
        codes, masks = [], []
        layout = None
        for t in templates:
            self._check(t)
            c, m, lay = decode_payload(t.data)
            if layout is None:
                layout = lay
            elif lay != layout:
                raise InvalidInput("iris templates with different code layouts")
            codes.append(c)
            masks.append(m)
        if not codes:
            return np.empty((0, 1, 1), np.uint64), np.empty((0, 1), np.uint64)
        return np.ascontiguousarray(np.stack(codes)), np.ascontiguousarray(np.stack(masks))

    def probe(self, t: Template) -> tuple[np.ndarray, np.ndarray]:
        """Pre-shifted packed probe: (S, planes, W) and (S, W)."""
        self._check(t)
        code = template_code(t)
        return shifted_probe(code.code, code.mask, self.config.matching.shifts)

    def compare(self, a: Template, b: Template) -> float:
        a.check_compatible(b)
        return float(self.compare_many(a, [b])[0])

    def compare_many(self, probe: Template, gallery: Sequence[Template]) -> np.ndarray:
        gallery = list(gallery)
        for g in gallery:
            probe.check_compatible(g)
        if not gallery:
            return np.empty(0, np.float64)
        pc, pm = self.probe(probe)
        gc, gm = self.packed(gallery)
        if gc.shape[1:] != pc.shape[1:]:
            raise InvalidInput("iris templates with different code layouts")
        return scores_packed(pc, pm, gc, gm, self.config.matching)


@functools.lru_cache(maxsize=1)
def get_iris_engine() -> IrisEngine:
    return IrisEngine()


__all__ = ["ALGORITHM", "VERSION", "IrisAnalysis", "IrisConfig", "IrisEngine", "QualityConfig",
           "analyse", "decode_payload", "encode_payload", "get_iris_engine", "template_code"]
