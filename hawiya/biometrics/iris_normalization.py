"""Daugman rubber-sheet normalisation: the iris annulus unwrapped to a fixed polar grid.

For angle ``theta`` and normalised radius ``rho`` in [0, 1] the sampled point is
``(1 - rho) * P(theta) + rho * L(theta)``, where P and L are the points at ``theta`` on the
pupil and limbus circles (the circles need not be concentric: off-centre gaze is absorbed).
Angle 0 points to the image's +x, angles grow towards +y, so a rotation of the eye (head
tilt) is a circular shift along the angular axis.

The noise mask of the polar texture combines: outside the image, reflections, beyond an
eyelid, and pixels far darker (eyelashes, shadows) or brighter (skin, reflections the
top-hat missed) than the robust statistics of the iris itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from hawiya.biometrics.iris_segmentation import Segmentation, lid_mask


@dataclass
class NormalizationConfig:
    radial: int = 64  # texture rows, pupil -> limbus
    angular: int = 512  # texture columns, one full turn
    rho_range: tuple[float, float] = (0.03, 0.97)  # part of the pupil->limbus span kept
    dark_sigmas: float = 2.5  # eyelash mask: below median - k * robust sigma
    bright_sigmas: float = 3.0  # skin/reflection mask: above median + k * robust sigma
    outlier_dilate: int = 1


@dataclass
class NormalizedIris:
    texture: np.ndarray  # float32 (radial, angular)
    mask: np.ndarray  # bool (radial, angular), True = usable iris texture

    def __post_init__(self) -> None:
        if self.texture.shape != self.mask.shape or self.texture.ndim != 2:
            raise ValueError("texture and mask must be 2-D arrays of the same shape")

    @property
    def usable_fraction(self) -> float:
        return float(self.mask.mean())


def polar_grid(seg: Segmentation, cfg: NormalizationConfig) -> tuple[np.ndarray, np.ndarray]:
    """Image coordinates (xs, ys) of the rubber-sheet grid, each (radial, angular)."""
    theta = np.arange(cfg.angular, dtype=np.float64) * (2 * np.pi / cfg.angular)
    lo, hi = cfg.rho_range
    rho = lo + (np.arange(cfg.radial, dtype=np.float64) + 0.5) * (hi - lo) / cfg.radial
    p, i = seg.pupil, seg.iris
    px, py = p.x + p.r * np.cos(theta), p.y + p.r * np.sin(theta)
    lx, ly = i.x + i.r * np.cos(theta), i.y + i.r * np.sin(theta)
    xs = (1 - rho)[:, None] * px[None, :] + rho[:, None] * lx[None, :]
    ys = (1 - rho)[:, None] * py[None, :] + rho[:, None] * ly[None, :]
    return xs.astype(np.float32), ys.astype(np.float32)


def normalize(seg: Segmentation, cfg: NormalizationConfig) -> NormalizedIris:
    xs, ys = polar_grid(seg, cfg)
    h, w = seg.image.shape
    tex = cv2.remap(seg.image, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    valid = (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
    noise = cv2.remap(seg.noise.astype(np.uint8), xs, ys, cv2.INTER_NEAREST,
                      borderMode=cv2.BORDER_CONSTANT, borderValue=1).astype(bool)
    valid &= ~noise & ~lid_mask(seg, xs, ys)
    if valid.sum() > 50:
        vals = tex[valid]
        med = float(np.median(vals))
        sig = 1.4826 * float(np.median(np.abs(vals - med))) + 1.0
        out = (tex < med - cfg.dark_sigmas * sig) | (tex > med + cfg.bright_sigmas * sig)
        if cfg.outlier_dilate > 0:
            d = 2 * cfg.outlier_dilate + 1
            out = cv2.dilate(out.astype(np.uint8), np.ones((d, d), np.uint8)).astype(bool)
        valid &= ~out
    return NormalizedIris(texture=tex.astype(np.float32), mask=valid)
