"""Protocols every modality engine follows, and the quality report it returns.

An engine is stateless apart from its loaded model: ``assess`` says whether a capture is
usable and why not, ``extract`` turns a capture into a Template, ``compare`` scores two
templates (higher = more similar) and the batch forms do the same for many at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from hawiya.biometrics.template import Template


@dataclass
class QualityReport:
    """Whether a capture is usable, a 0-100 score, and the reasons when it is not."""

    ok: bool
    score: int
    reasons: list[str] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "score": self.score, "reasons": self.reasons,
                "metrics": self.metrics}


class Engine(Protocol):
    modality: str
    algorithm: str
    version: int

    def assess(self, image: np.ndarray) -> QualityReport: ...

    def extract(self, image: np.ndarray, position: str = "unknown") -> Template: ...

    def compare(self, a: Template, b: Template) -> float: ...

    def extract_batch(self, images: Sequence[np.ndarray]) -> list[Template | Exception]: ...

    def compare_many(self, probe: Template, gallery: Sequence[Template]) -> np.ndarray: ...
