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


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


@dataclass
class Settings:
    data_dir: Path
    database_url: str
    face_verify_threshold: float = FACE_VERIFY_THRESHOLD
    face_dedup_threshold: float = FACE_DEDUP_THRESHOLD
    face_detector: str = "hog"
    keep_raw_images: bool = False
    token_ttl_hours: int = 12
    extra: dict = field(default_factory=dict)

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
        face_detector=os.environ.get("HAWIYA_FACE_DETECTOR", "hog"),
        keep_raw_images=os.environ.get("HAWIYA_KEEP_RAW_IMAGES", "0") in ("1", "true", "yes"),
    )
