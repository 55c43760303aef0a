"""The fingerprint modality's registry entry: LEADER minutiae in a pre-filtered gallery."""

from __future__ import annotations

import dataclasses

from hawiya.biometrics.iso19794_2 import FINGER_POSITIONS
from hawiya.biometrics.modalities import EngineKind, ModalitySpec


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
)
