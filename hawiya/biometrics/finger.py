"""Fingerprint modality engine: LEADER minutiae, local-structure matching, 1:N pre-filter.

Pipeline (stages in their own modules, parameters in :class:`FingerConfig`)::

    image --finger_extract.prepare_*--> 500 ppi grey + mask --detect (LEADER)--> minutiae
          --filter--> Template (``hawiya-finger-leader`` version 1)
    Template x Template --finger_match--> score in [0, 1]

Sources: ``source="contact"`` (scanner images; ``ppi`` gives the sensor resolution, default
500), ``"contactless"`` (a colour photo of a finger: segmented, scaled from the finger width,
CLAHE-enhanced, polarity chosen), or ``"auto"`` (default: a colour image whose largest
skin-coloured region covers a good part of the frame is taken as contactless, anything else
as contact).

Template payload (big-endian)::

    b"HFMT" | u8 layout version (1) | u16 width | u16 height (500 ppi pixels) | u16 ppi (500)
    | u8 source (0 contact, 1 contactless) | u8 reserved | u16 count
    | count x (u16 x * 4 | u16 y * 4 | u16 angle * 65536 / 2pi | u8 kind (0 ending,
      1 bifurcation) | u8 quality 0-100)

Coordinates are in pixels at 500 ppi, angles in image coordinates (radians of
``atan2(dy, dx)`` with y pointing down). ISO/IEC 19794-2 records convert both ways
(:meth:`FingerEngine.from_iso`, :meth:`FingerEngine.to_iso`).

Scores (see :mod:`hawiya.biometrics.finger_match`) are in [0, 1]; the recommended
threshold for FMR 1e-3 is :data:`THRESHOLD_FMR_1E3`.
"""

from __future__ import annotations

import functools
import struct
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from hawiya.biometrics import finger_extract as fx
from hawiya.biometrics import finger_match as fm
from hawiya.biometrics import iso19794_2 as iso
from hawiya.biometrics.base import QualityReport
from hawiya.biometrics.template import Template
from hawiya.biometrics.workers import (
    WorkerPool,
    extraction_result,
    single_threaded_opencv,
)
from hawiya.errors import HawiyaError, InvalidInput, QualityRejected

ALGORITHM = "hawiya-finger-leader"
VERSION = 1
POSITIONS = tuple(iso.FINGER_POSITIONS)
SOURCES = ("auto", "contact", "contactless")
LAYOUT_MAGIC = b"HFMT"
LAYOUT_VERSION = 1
_HEAD = struct.Struct(">4sBHHHBBH")  # 15 bytes
_MIN_DTYPE = np.dtype([("x", ">u2"), ("y", ">u2"), ("a", ">u2"), ("k", "u1"), ("q", "u1")])
# Decision thresholds measured on FVC2002 DB1-4_B (all pairs, ``benchmarks/finger_match.py
# --accuracy``): FMR 1e-3 needs 0.165 / 0.167 / 0.143 / 0.198 per set, 0.172 pooled; the
# most conservative is kept. FMR 1e-2: 0.134 pooled.
THRESHOLD_FMR_1E3 = 0.20
THRESHOLD_FMR_1E2 = 0.14


@dataclass
class FingerConfig:
    extract: fx.ExtractConfig = field(default_factory=fx.ExtractConfig)
    matching: fm.MatchConfig = field(default_factory=fm.MatchConfig)
    ppi: float = 500.0  # contact sensor resolution when the caller does not say
    cache_size: int = 20000  # prepared minutiae kept per engine (keyed by template bytes)
    name: str = ""  # algorithm name set by the modality registry (else ALGORITHM)

    @property
    def algorithm(self) -> str:
        return self.name or ALGORITHM


@dataclass
class FingerAnalysis:
    """Every intermediate result of one capture (for the quality report and debugging)."""

    source: str
    prepared: fx.Prepared | None
    minutiae: np.ndarray  # (N, 5) x, y, theta, kind, quality at 500 ppi
    report: QualityReport


# --------------------------------------------------------------------------- payload codec


def encode_payload(mins: np.ndarray, width: int, height: int, source: int = 0) -> bytes:
    mins = np.asarray(mins, np.float64).reshape(-1, 5)
    rec = np.zeros(len(mins), _MIN_DTYPE)
    rec["x"] = np.clip(np.round(mins[:, 0] * 4), 0, 65535)
    rec["y"] = np.clip(np.round(mins[:, 1] * 4), 0, 65535)
    rec["a"] = np.round(np.mod(mins[:, 2], 2 * np.pi) * (65536 / (2 * np.pi))).astype(
        np.int64) % 65536
    rec["k"] = (mins[:, 3] >= 0.5).astype(np.uint8)
    rec["q"] = np.clip(np.round(mins[:, 4] * 100), 0, 100)
    head = _HEAD.pack(LAYOUT_MAGIC, LAYOUT_VERSION, int(min(width, 65535)),
                      int(min(height, 65535)), 500, int(source), 0, len(mins))
    return head + rec.tobytes()


def decode_payload(data: bytes) -> tuple[np.ndarray, dict]:
    """(N, 5) minutiae and the header fields of a finger template payload."""
    if len(data) < _HEAD.size:
        raise InvalidInput("finger template payload too short")
    magic, ver, w, h, ppi, src, _, n = _HEAD.unpack_from(data)
    if magic != LAYOUT_MAGIC or ver != LAYOUT_VERSION:
        raise InvalidInput("not a finger minutiae payload (bad layout header)")
    if len(data) != _HEAD.size + n * _MIN_DTYPE.itemsize:
        raise InvalidInput(f"finger template payload is {len(data)} bytes, expected "
                           f"{_HEAD.size + n * _MIN_DTYPE.itemsize}")
    rec = np.frombuffer(data, _MIN_DTYPE, count=n, offset=_HEAD.size)
    mins = np.column_stack([rec["x"] / 4.0, rec["y"] / 4.0,
                            rec["a"] * (2 * np.pi / 65536), rec["k"].astype(np.float64),
                            rec["q"] / 100.0]) if n else np.zeros((0, 5))
    return mins, {"width": w, "height": h, "ppi": ppi,
                  "source": "contactless" if src == 1 else "contact"}


def template_minutiae(t: Template) -> np.ndarray:
    return decode_payload(t.data)[0]


# --------------------------------------------------------------------------- analysis


def _looks_contactless(img: np.ndarray) -> bool:
    if img.ndim != 3 or img.shape[2] < 3:
        return False
    a = img[..., :3].astype(np.int16)
    if np.abs(a[..., 0] - a[..., 1]).mean() < 4 and np.abs(a[..., 1] - a[..., 2]).mean() < 4:
        return False  # grey stored as RGB: a scanner image
    mask, geo = fx.find_finger(img)
    return mask is not None and geo.get("skin_fraction", 0) > 0.05


def _score(n: int, q_mean: float, clarity: float, cfg: fx.ExtractConfig) -> int:
    f_n = min(1.0, n / 40.0)
    f_q = min(1.0, max(0.0, (q_mean - 0.5) / 0.4))
    f_c = min(1.0, max(0.0, (clarity - cfg.min_coherence) / 0.4))
    return int(round(100 * (0.5 * f_n + 0.25 * f_q + 0.25 * f_c)))


def analyse(image: np.ndarray, cfg: FingerConfig, *, source: str = "auto",
            ppi: float | None = None) -> FingerAnalysis:
    """Run the whole pipeline on one image; problems become report reasons, never raise."""
    ec = cfg.extract
    empty = np.zeros((0, 5))

    def fail(reasons: list[str], metrics: dict | None = None, src: str = source
             ) -> FingerAnalysis:
        return FingerAnalysis(src, None, empty, QualityReport(ok=False, score=0,
                                                              reasons=reasons,
                                                              metrics=metrics or {}))

    img = np.asarray(image)
    if img.dtype.kind not in "uif" or img.ndim not in (2, 3) or img.size == 0 or \
            (img.ndim == 3 and img.shape[2] not in (1, 3, 4)):
        return fail(["bad_input"], {"message": "expected an HxW or HxWx3 uint8 image"})
    if source not in SOURCES:
        return fail(["bad_input"], {"message": f"source must be one of {SOURCES}"})
    if source == "auto":
        source = "contactless" if _looks_contactless(img) else "contact"
    ppi = float(ppi if ppi is not None else cfg.ppi)
    if source == "contact" and not ec.min_ppi <= ppi <= ec.max_ppi:
        return fail(["unsupported_resolution"],
                    {"message": f"resolution {ppi:g} ppi outside {ec.min_ppi:g}-"
                                f"{ec.max_ppi:g}"})
    grey = fx.to_grey(img)
    if min(grey.shape) * (ec.target_ppi / ppi if source == "contact" else 1.0) < \
            ec.min_side_px and source == "contact":
        return fail(["image_too_small"], {"message": f"image {grey.shape[1]}x"
                                                     f"{grey.shape[0]} too small"})
    if max(grey.shape) > 4 * ec.max_side_px:
        return fail(["image_too_large"])
    if float(grey.std()) < ec.min_std:
        return fail(["blank_image"], {"std": round(float(grey.std()), 2)}, source)

    metrics: dict = {"source": source}
    if source == "contact":
        prep = fx.prepare_contact(grey, ppi, ec)
        candidates = [prep]
    else:
        res = fx.prepare_contactless(img if img.ndim == 3 else grey, ec)
        if isinstance(res, dict):
            return fail(res.pop("reasons"), res, source)
        metrics.update({k: v for k, v in res.metrics.items() if k != "reasons"})
        if res.metrics.get("reasons"):
            return fail(list(res.metrics["reasons"]), metrics, source)
        inv = fx.Prepared(255.0 - res.image, res.mask, res.scale, res.offset, res.metrics)
        candidates = [inv, res]
    if min(candidates[0].image.shape) < ec.min_side_px:
        return fail(["image_too_small"], metrics, source)

    best, best_mins, best_val = None, empty, -1.0
    for prep in candidates:
        mins = fx.filter_minutiae(fx.detect(prep.image, ec), prep.mask, ec)
        val = float(mins[:, 4].sum()) if len(mins) else 0.0
        if val > best_val:
            best, best_mins, best_val = prep, mins, val
        if source == "contactless" and len(mins) >= 25:
            break  # the expected polarity worked
    prep, mins = best, best_mins
    if source == "contactless":
        metrics["inverted"] = prep is candidates[0]
    coh, std = fx.ridge_map(prep.image.astype(np.uint8) if prep.image.dtype != np.uint8
                            else prep.image)
    fg = std > max(8.0, 0.35 * float(np.percentile(std, 90)))
    clarity = float(np.median(coh[fg])) if fg.any() else 0.0
    ridge_frac = float((fg & (coh > ec.min_coherence)).mean())
    metrics.update({
        "width_500ppi": int(prep.image.shape[1]), "height_500ppi": int(prep.image.shape[0]),
        "scale": round(prep.scale, 4), "minutiae": int(len(mins)),
        "mean_minutia_quality": round(float(mins[:, 4].mean()), 3) if len(mins) else 0.0,
        "ridge_clarity": round(clarity, 3), "ridge_area_fraction": round(ridge_frac, 3),
        "foreground_fraction": round(float(prep.mask.mean()), 3),
    })
    reasons = []
    if clarity < ec.min_coherence or ridge_frac < ec.min_ridge_fraction:
        reasons.append("no_ridge_pattern")
    if len(mins) < ec.min_minutiae:
        reasons.append("too_few_minutiae")
    score = _score(len(mins), metrics["mean_minutia_quality"], clarity, ec)
    if reasons:
        score = min(score, 20)
    return FingerAnalysis(source, prep, mins, QualityReport(ok=not reasons, score=score,
                                                            reasons=reasons,
                                                            metrics=metrics))


def _extract_one(image: np.ndarray, position: str, cfg: FingerConfig, source: str = "auto",
                 ppi: float | None = None) -> Template:
    if position not in POSITIONS:
        raise InvalidInput(f"finger position must be one of {POSITIONS}, got {position!r}")
    a = analyse(image, cfg, source=source, ppi=ppi)
    if not a.report.ok or a.prepared is None:
        msg = a.report.metrics.get("message") or ", ".join(a.report.reasons)
        raise QualityRejected(f"fingerprint capture unusable: {msg}", reasons=a.report.reasons)
    h, w = a.prepared.image.shape
    m = a.report.metrics
    meta = {"source": a.source, "minutiae": m["minutiae"],
            "ridge_clarity": m["ridge_clarity"]}
    return Template(modality="finger", algorithm=cfg.algorithm, version=VERSION,
                    data=encode_payload(a.minutiae, w, h, int(a.source == "contactless")),
                    quality=a.report.score, position=position, meta=meta)


def _worker_extract(args: tuple) -> Template | HawiyaError:
    image, position, cfg, source, ppi = args
    return extraction_result("finger", _extract_one, image, position, cfg, source, ppi)




# --------------------------------------------------------------------------- engine


class FingerEngine:
    """Fingerprint engine (Engine protocol in :mod:`hawiya.biometrics.base`)."""

    modality = "finger"
    algorithm = ALGORITHM
    version = VERSION
    image_mode = "RGB"

    def __init__(self, config: FingerConfig | None = None):
        self.config = config or FingerConfig()
        self.algorithm = self.config.algorithm
        self._workers = WorkerPool("hawiya.biometrics.finger", single_threaded_opencv)
        self._cache: OrderedDict[bytes, fm.MinutiaeSet] = OrderedDict()

    # -- capture
    def analyse(self, image: np.ndarray, source: str = "auto",
                ppi: float | None = None) -> FingerAnalysis:
        return analyse(image, self.config, source=source, ppi=ppi)

    def assess(self, image: np.ndarray, source: str = "auto",
               ppi: float | None = None) -> QualityReport:
        return analyse(image, self.config, source=source, ppi=ppi).report

    def extract(self, image: np.ndarray, position: str = "unknown", source: str = "auto",
                ppi: float | None = None) -> Template:
        return _extract_one(image, position, self.config, source, ppi)

    def extract_batch(self, images: Sequence[np.ndarray], workers: int | None = None,
                      position: str = "unknown", source: str = "auto",
                      ppi: float | None = None) -> list[Template | HawiyaError]:
        """Templates in input order; an unusable image gives its error in its slot."""
        items = [(img, position, self.config, source, ppi) for img in images]
        return self._workers.run(items, _worker_extract, workers=workers)

    def close(self) -> None:
        self._workers.close()

    # -- templates
    def _check(self, t: Template) -> None:
        if t.modality != self.modality or t.algorithm != self.algorithm or \
                t.version != self.version:
            Template(modality="finger", algorithm=self.algorithm, version=self.version,
                     data=b"").check_compatible(t)

    def minutiae(self, t: Template) -> np.ndarray:
        """(N, 5) x, y, theta, kind, quality of a template (500 ppi pixels, radians)."""
        self._check(t)
        return template_minutiae(t)

    def prepared(self, t: Template) -> fm.MinutiaeSet:
        self._check(t)
        hit = self._cache.get(t.data)
        if hit is not None:
            return hit
        ms = fm.prepare(template_minutiae(t), self.config.matching)
        if self.config.cache_size > 0:
            self._cache[t.data] = ms
            if len(self._cache) > self.config.cache_size:
                self._cache.popitem(last=False)
        return ms

    def pack(self, templates: Sequence[Template]) -> fm.PackedGallery:
        """Gallery arrays for :meth:`compare_packed` (prepare once, score many times)."""
        return fm.pack([self.prepared(t) for t in templates], self.config.matching.k)

    def from_minutiae(self, mins: np.ndarray, width: int, height: int,
                      position: str = "unknown", quality: int = 50) -> Template:
        """A template from (N, 5) minutiae already at 500 ppi (x, y, theta, kind, q 0-1)."""
        return Template(modality="finger", algorithm=self.algorithm, version=VERSION,
                        data=encode_payload(mins, width, height), quality=int(quality),
                        position=position, meta={"minutiae": int(len(mins))})

    def from_iso(self, data: bytes, view: int = 0, rescale: tuple[float, float] | None = None
                 ) -> Template:
        """Template from one view of an ISO/IEC 19794-2:2005 record.

        Coordinates are taken at the record's resolution and resampled to 500 ppi;
        ``rescale`` = (sx, sy) multiplies them first (e.g. to undo a vendor's resize).
        """
        rec = iso.read(data)
        if not 0 <= view < len(rec.views):
            raise InvalidInput(f"ISO record has {len(rec.views)} finger views, no view {view}")
        v = rec.views[view]
        mins = iso.view_arrays(v)
        sx, sy = rescale or (1.0, 1.0)
        fx_ = (500.0 / (rec.x_resolution * 2.54)) if rec.x_resolution else 1.0
        fy_ = (500.0 / (rec.y_resolution * 2.54)) if rec.y_resolution else 1.0
        if abs(fx_ - 1) < 0.02 and abs(fy_ - 1) < 0.02:  # 197 px/cm is 500 ppi
            fx_ = fy_ = 1.0
        mins[:, 0] *= sx * fx_
        mins[:, 1] *= sy * fy_
        if not np.any(mins[:, 4] > 0):
            mins[:, 4] = 0.5  # quality not reported
        return self.from_minutiae(mins, int(round(rec.width * sx * fx_)),
                                  int(round(rec.height * sy * fy_)),
                                  position=iso.POSITION_NAMES.get(v.position, "unknown"),
                                  quality=min(100, v.quality or 50))

    def to_iso(self, t: Template) -> bytes:
        """An ISO/IEC 19794-2:2005 record (one view, 500 ppi = 197 px/cm) of a template."""
        self._check(t)
        mins, head = decode_payload(t.data)
        view = iso.view_from_arrays(mins, position=t.position, quality=t.quality)
        return iso.write(iso.Record(width=head["width"], height=head["height"],
                                    views=[view]))

    # -- comparison
    def compare(self, a: Template, b: Template) -> float:
        a.check_compatible(b)
        return fm.score_pair(self.prepared(a), self.prepared(b), self.config.matching)

    def compare_many(self, probe: Template, gallery: Sequence[Template]) -> np.ndarray:
        gallery = list(gallery)
        for g in gallery:
            probe.check_compatible(g)
        if not gallery:
            return np.empty(0, np.float64)
        return self.compare_packed(probe, self.pack(gallery))

    def compare_packed(self, probe: Template, gallery: fm.PackedGallery) -> np.ndarray:
        return fm.score_packed(self.prepared(probe), gallery, self.config.matching)

    # -- 1:N pre-filter
    def index_vector(self, t: Template) -> np.ndarray:
        """Fixed-length (768,) float32 descriptor; dot products rank a gallery (pre-filter)."""
        return fm.index_vector(self.minutiae(t))

    def index_vectors(self, templates: Sequence[Template]) -> np.ndarray:
        if not templates:
            return np.zeros((0, fm.IDX_D_BINS * fm.IDX_A_BINS ** 2), np.float32)
        return np.stack([self.index_vector(t) for t in templates])

    def search(self, probe: Template, gallery: fm.PackedGallery, index: np.ndarray,
               k: int = 10, shortlist: int = 200) -> list[tuple[int, float]]:
        """1:N: rank by index vector, fully match the ``shortlist`` best, return top ``k``.

        ``index`` is ``index_vectors(gallery templates)`` (rows in gallery order); returns
        (gallery row, score) pairs, best first.
        """
        n = len(gallery)
        if n == 0:
            return []
        sims = index @ self.index_vector(probe)
        s = min(shortlist, n)
        cand = np.argpartition(-sims, s - 1)[:s] if s < n else np.arange(n)
        cand = np.sort(cand)
        sub = subset(gallery, cand)
        scores = self.compare_packed(probe, sub)
        order = np.argsort(-scores, kind="stable")[:k]
        return [(int(cand[i]), float(scores[i])) for i in order]


def subset(g: fm.PackedGallery, rows: np.ndarray) -> fm.PackedGallery:
    """The rows ``rows`` of a packed gallery, as a new packed gallery."""
    rows = np.asarray(rows, np.int64)
    starts, ends = g.off[rows], g.off[rows + 1]
    idx = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends, strict=True)]) \
        if len(rows) else np.zeros(0, np.int64)
    off = np.zeros(len(rows) + 1, np.int64)
    np.cumsum(ends - starts, out=off[1:])
    return fm.PackedGallery(off, g.xy[idx], g.th[idx], g.q[idx], g.feat[idx], g.cnt[idx])


@functools.lru_cache(maxsize=1)
def get_finger_engine() -> FingerEngine:
    return FingerEngine()


__all__ = ["ALGORITHM", "FingerAnalysis", "FingerConfig", "FingerEngine", "POSITIONS",
           "SOURCES", "THRESHOLD_FMR_1E2", "THRESHOLD_FMR_1E3", "VERSION", "analyse",
           "decode_payload", "encode_payload", "get_finger_engine", "subset",
           "template_minutiae"]


class IsoRecordEngine:
    """Evaluation adapter: the finger engine fed ISO/IEC 19794-2 records instead of images.

    ``hawiya eval finger --iso`` scores vendor templates with our matcher through the same
    runner as images (``load_sample`` reads the record, ``extract`` converts it)."""

    def __init__(self, engine: FingerEngine):
        self.engine = engine
        self.modality, self.algorithm, self.version = "finger", engine.algorithm, engine.version

    @staticmethod
    def load_sample(path) -> bytes:
        from hawiya.imaging import read_bytes

        return read_bytes(path)

    def extract(self, record: bytes, position: str = "unknown") -> Template:
        return self.engine.from_iso(record)

    def extract_batch(self, records, workers=None) -> list:
        return [extraction_result("finger", self.extract, r) for r in records]

    def compare_many(self, probe: Template, gallery) -> np.ndarray:
        return self.engine.compare_many(probe, gallery)
