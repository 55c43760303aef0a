"""Capture: the one shape in which a biometric sample travels from the API, pages and CLI
through identity and elections: (modality, position, image).

The image is raw bytes or a file path (read once, bounded, by ``hawiya.imaging``); which
modalities and positions exist is the modality registry's business
(:mod:`hawiya.biometrics.modalities`), checked when a request's captures are validated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ImageInput = bytes | str | Path


@dataclass(frozen=True)
class Capture:
    modality: str
    image: ImageInput
    position: str | None = None  # None: the modality's default (set when checked)

    @property
    def label(self) -> str:
        """How a message names this capture ("face", "left-iris", "right-index")."""
        return self.modality if self.position in (None, "unknown", "frontal") else \
            self.position


def classic_captures(faces: Sequence[ImageInput] = (),
                     irises: Sequence[tuple[str, ImageInput]] = (),
                     fingers: Sequence[tuple[str, ImageInput]] = ()) -> list[Capture]:
    """Captures from the classic interface fields (``--face``/``face``, ``--iris-left``…,
    ``--finger POS=IMG``); any registered modality also travels as a plain Capture."""
    return ([Capture("face", f, "frontal") for f in faces]
            + [Capture("iris", img, pos) for pos, img in irises]
            + [Capture("finger", img, pos) for pos, img in fingers])


def parse_capture_spec(spec: str) -> tuple[str, str | None]:
    """``MODALITY[:POSITION]`` (the generic ``--capture``/``capture_label`` form); no
    position means the modality's default (``frontal`` for a face, ``unknown`` else)."""
    modality, _, position = spec.strip().partition(":")
    return modality.strip(), (position.strip() or None)
