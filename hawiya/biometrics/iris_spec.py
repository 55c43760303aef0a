"""The iris modality's registry entry: log-Gabor iris codes in a binary gallery."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from hawiya.biometrics.modalities import EngineKind, ModalitySpec
from hawiya.biometrics.template import Template
from hawiya.errors import InvalidInput

POSITIONS = ("left-iris", "right-iris", "unknown")


def _config():
    from hawiya.biometrics.iris import IrisConfig

    return IrisConfig()


def _build(cfg, algorithm: str):
    from hawiya.biometrics.iris import IrisEngine

    return IrisEngine(dataclasses.replace(cfg, name=algorithm))


def _new_gallery(engine):
    from hawiya.biometrics.workers import default_workers
    from hawiya.search.binary_gallery import BinaryGallery

    return BinaryGallery(engine.config.matching, threads=default_workers())


def _load_gallery(path, engine):
    from hawiya.biometrics.workers import default_workers
    from hawiya.search.binary_gallery import BinaryGallery

    return BinaryGallery.load(path, threads=default_workers())


def two_different_eyes(engine, irises: Sequence[Template], settings) -> None:
    """A left and a right iris in one request must be two different eyes."""
    left = [t for t in irises if t.position == "left-iris"]
    right = [t for t in irises if t.position == "right-iris"]
    if left and right:
        best = float(np.max(engine.compare_many(left[0], right)))
        if best >= settings.verify_threshold("iris"):
            raise InvalidInput("the left and right iris images are the same eye "
                               f"(score {best:.3f}); check the eye labels")


SPEC = ModalitySpec(
    name="iris",
    positions=POSITIONS,
    engines={"hawiya-iris-loggabor": EngineKind(
        name="hawiya-iris-loggabor", version=1, default_config=_config, build=_build,
        algorithm=lambda cfg: cfg.algorithm, neutral_params=("quality", "matching", "name"))},
    new_gallery=_new_gallery,
    load_gallery=_load_gallery,
    labelled=True,
    label_noun="eye",
    detect_wrong_label=True,
    unique_positions=False,
    max_per_request=4,
    check_request=two_different_eyes,
)
