"""Settings from the environment (and defaults), resolved once per process.

Everything deployment-specific lives here: where data goes, which database, which key
encrypts templates, and the decision thresholds that came from ``hawiya eval`` runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# Face decision thresholds on the cosine similarity of L2-normalised dlib embeddings, from
# `hawiya eval face ../shared/data/face/yale` (README "Accuracy"): 0.937 is the FMR 1e-2 point
# there (1e-3 is 0.950, EER 0.9325). Yale's grayscale single-camera impostors score unusually
# high, so its 1e-3 point would reject many genuine colour photos; 0.937 is also about dlib's
# Euclidean 0.49 on raw descriptors, stricter than dlib's LFW operating point (0.6 ≈ 0.91).
# De-duplication uses the lower EER point: a candidate goes to a human, not to a verdict.
# Calibrate per deployment on data that looks like it (HAWIYA_FACE_THRESHOLD).
FACE_VERIFY_THRESHOLD = 0.937
FACE_DEDUP_THRESHOLD = 0.93

# Iris scores are 1 - normalised fractional Hamming distance (hawiya.biometrics.iris), from
# `hawiya eval iris ../shared/data/iris/casia1`: FMR 1e-2 at 0.594, 1e-3 at 0.612, 1e-4 at
# 0.627 (283,122 impostor pairs). Verify at the 1e-4 point, de-duplicate at 1e-3.
IRIS_VERIFY_THRESHOLD = 0.627
IRIS_DEDUP_THRESHOLD = 0.612

# Finger scores (hawiya.biometrics.finger) from `hawiya eval finger DB --fvc` on FVC2002
# DB1-4_B: FMR 1e-3 at 0.165 / 0.167 / 0.143 / 0.198 per set, 0.172 pooled; 1e-2 at 0.134
# pooled. Verify at the most conservative set's 1e-3 point, de-duplicate at the pooled one.
FINGER_VERIFY_THRESHOLD = 0.20
FINGER_DEDUP_THRESHOLD = 0.172

# (FMR, threshold) calibration points used to fuse modalities (hawiya.biometrics.fusion); the
# 0.5 points are the impostor score means of the same runs.
CALIBRATION = {
    "face": ((0.5, 0.841), (1e-2, 0.937), (1e-3, 0.950), (1e-4, 0.958)),
    "iris": ((0.5, 0.548), (1e-2, 0.594), (1e-3, 0.612), (1e-4, 0.627)),
    "finger": ((0.5, 0.057), (1e-2, 0.134), (1e-3, 0.172)),
}
# A fused (several modalities) decision accepts at this false-match rate.
FUSION_TARGET_FMR = 1e-4


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


@dataclass
class Settings:
    data_dir: Path
    database_url: str
    face_verify_threshold: float = FACE_VERIFY_THRESHOLD
    face_dedup_threshold: float = FACE_DEDUP_THRESHOLD
    iris_verify_threshold: float = IRIS_VERIFY_THRESHOLD
    iris_dedup_threshold: float = IRIS_DEDUP_THRESHOLD
    finger_verify_threshold: float = FINGER_VERIFY_THRESHOLD
    finger_dedup_threshold: float = FINGER_DEDUP_THRESHOLD
    fusion_target_fmr: float = FUSION_TARGET_FMR
    face_detector: str = "hog"
    issuing_state: str = "UTO"
    issuing_authority: str = "Hawiya Civil Registry"
    document_valid_years: int = 10
    keep_raw_images: bool = False
    token_ttl_hours: int = 12
    extra: dict = field(default_factory=dict)

    def verify_threshold(self, modality: str) -> float:
        return getattr(self, f"{modality}_verify_threshold")

    def dedup_threshold(self, modality: str) -> float:
        return getattr(self, f"{modality}_dedup_threshold")

    @property
    def key_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def template_key_path(self) -> Path:
        return self.key_dir / "template.key"

    @property
    def gallery_dir(self) -> Path:
        return self.data_dir / "galleries"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"


def load_settings(data_dir: str | os.PathLike | None = None,
                  database_url: str | None = None) -> Settings:
    base = Path(data_dir or os.environ.get("HAWIYA_DATA_DIR") or "./hawiya-data").resolve()
    url = database_url or os.environ.get("HAWIYA_DATABASE_URL") or f"sqlite:///{base / 'hawiya.db'}"
    return Settings(
        data_dir=base,
        database_url=url,
        face_verify_threshold=_env_float("HAWIYA_FACE_THRESHOLD", FACE_VERIFY_THRESHOLD),
        face_dedup_threshold=_env_float("HAWIYA_FACE_DEDUP_THRESHOLD", FACE_DEDUP_THRESHOLD),
        iris_verify_threshold=_env_float("HAWIYA_IRIS_THRESHOLD", IRIS_VERIFY_THRESHOLD),
        iris_dedup_threshold=_env_float("HAWIYA_IRIS_DEDUP_THRESHOLD", IRIS_DEDUP_THRESHOLD),
        finger_verify_threshold=_env_float("HAWIYA_FINGER_THRESHOLD", FINGER_VERIFY_THRESHOLD),
        finger_dedup_threshold=_env_float("HAWIYA_FINGER_DEDUP_THRESHOLD",
                                          FINGER_DEDUP_THRESHOLD),
        fusion_target_fmr=_env_float("HAWIYA_FUSION_TARGET_FMR", FUSION_TARGET_FMR),
        face_detector=os.environ.get("HAWIYA_FACE_DETECTOR", "hog"),
        issuing_state=os.environ.get("HAWIYA_ISSUING_STATE", "UTO"),
        issuing_authority=os.environ.get("HAWIYA_ISSUING_AUTHORITY", "Hawiya Civil Registry"),
        keep_raw_images=os.environ.get("HAWIYA_KEEP_RAW_IMAGES", "0") in ("1", "true", "yes"),
    )
