"""The fingerprint modality's registry entry: LEADER minutiae in a pre-filtered gallery."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from hawiya.biometrics.iso19794_2 import FINGER_POSITIONS
from hawiya.biometrics.modalities import EngineKind, ModalitySpec
from hawiya.biometrics.template import Template
from hawiya.errors import InvalidInput


def _config():
    from hawiya.biometrics.finger import FingerConfig

    return FingerConfig()


def _build(cfg, algorithm: str):
    from hawiya.biometrics.finger import FingerEngine

    return FingerEngine(dataclasses.replace(cfg, name=algorithm))


def _new_gallery(engine):
    from hawiya.search.finger_gallery import FingerGallery

    return FingerGallery(engine)


def _load_gallery(path, engine):
    from hawiya.search.finger_gallery import FingerGallery

    return FingerGallery.load(path, engine)


def distinct_fingers(engine, fingers: Sequence[Template], settings) -> None:
    """Fingers at different positions in one request must be different fingers (the same
    finger enrolled twice would let one person pass as two)."""
    threshold = settings.verify_threshold("finger")
    for i in range(1, len(fingers)):
        scores = engine.compare_many(fingers[i], fingers[:i])
        j = int(np.argmax(scores))
        if float(scores[j]) >= threshold and fingers[i].position != fingers[j].position:
            raise InvalidInput(f"the {fingers[j].position} and {fingers[i].position} images "
                               f"are the same finger (score {float(scores[j]):.3f}); "
                               "capture each finger once")


SPEC = ModalitySpec(
    name="finger",
    positions=tuple(FINGER_POSITIONS),
    engines={"hawiya-finger-leader": EngineKind(
        name="hawiya-finger-leader", version=1, default_config=_config, build=_build,
        algorithm=lambda cfg: cfg.algorithm,
        neutral_params=("quality", "matching", "cache_size", "ppi", "name"))},
    new_gallery=_new_gallery,
    load_gallery=_load_gallery,
    labelled=True,
    label_noun="finger",
    unique_positions=True,
    max_per_request=10,
    check_request=distinct_fingers,
)
