"""The face modality's registry entry: dlib ResNet embeddings in a faiss gallery."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from hawiya.biometrics.modalities import EngineKind, ModalitySpec
from hawiya.biometrics.template import Template
from hawiya.errors import InvalidInput


def _config():
    from hawiya.biometrics.face import FaceConfig

    return FaceConfig()


def _build(cfg, algorithm: str):
    from hawiya.biometrics.face import FaceEngine

    return FaceEngine(dataclasses.replace(cfg, name=algorithm))


def _new_gallery(engine):
    from hawiya.search.vector_gallery import VectorTemplateGallery

    return VectorTemplateGallery(engine)


def _load_gallery(path, engine):
    from hawiya.search.vector_gallery import VectorTemplateGallery

    return VectorTemplateGallery.load(path, engine)


def one_person(engine, faces: Sequence[Template], settings) -> None:
    """Several face images in one request must show one person (else one identity would
    carry two people's faces)."""
    threshold = settings.dedup_threshold("face")
    for i in range(1, len(faces)):
        score = float(np.min(engine.compare_many(faces[i], faces[:i])))
        if score < threshold:
            raise InvalidInput(f"face image {i + 1} does not look like the same person as the "
                               f"others (score {score:.3f} < {threshold:.3f}); enroll one "
                               "person per request")


SPEC = ModalitySpec(
    name="face",
    positions=("frontal", "unknown"),
    default_position="frontal",
    engines={"dlib-resnet": EngineKind(
        name="dlib-resnet", version=1, default_config=_config, build=_build,
        algorithm=lambda cfg: cfg.algorithm, neutral_params=("quality", "detect", "name"))},
    new_gallery=_new_gallery,
    load_gallery=_load_gallery,
    max_per_request=10,
    check_request=one_person,
)
