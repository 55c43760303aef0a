"""Iris code: log-Gabor phase quantised to 2 bits per filter position, with a noise mask.

Filter. Each texture row is filtered along the angular axis with a 1-D log-Gabor filter
(frequency response ``exp(-log(f/f0)^2 / (2 log(sigma_on_f)^2))`` for f > 0, zero for
f <= 0, so the response is analytic/complex; the FFT's wrap-around matches the angular axis
exactly), then smoothed across rows with a Gaussian, which makes it a separable 2-D filter.
Masked texture pixels are set to the mean of the valid ones before filtering.

Code. The complex response is sampled at ``rings`` x ``positions`` grid points; each point
gives 2 bits per filter (sign of the real part, sign of the imaginary part: Daugman's phase
quadrant). The mask bit of a point is set when (a) at least ``min_support`` of the texture
pixels under the filter's footprint are valid iris and (b) the response magnitude is not
among the ``fragile_fraction`` weakest of the image (phase of a weak response is noise).

Layout (``IrisCode``): ``code`` bool (planes, rings, positions) with planes ordered
(filter0 real, filter0 imag, filter1 real, ...); ``mask`` bool (rings, positions), shared
by all planes. A rotation of the eye is ``np.roll`` along the last axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from hawiya.biometrics.iris_normalization import NormalizedIris


@dataclass
class EncodingConfig:
    rings: int = 8
    positions: int = 128
    wavelengths: tuple[float, ...] = (24.0,)  # texture pixels along the angular axis
    sigma_on_f: float = 0.5  # log-Gabor bandwidth (ratio sigma / f0)
    radial_sigma: float = 2.5  # Gaussian across texture rows (pixels)
    min_support: float = 0.85
    fragile_fraction: float = 0.10

    @property
    def planes(self) -> int:
        return 2 * len(self.wavelengths)

    @property
    def bits(self) -> int:
        return self.planes * self.rings * self.positions


@dataclass
class IrisCode:
    code: np.ndarray  # bool (planes, rings, positions)
    mask: np.ndarray  # bool (rings, positions), True = bit pair usable

    def __post_init__(self) -> None:
        if self.code.ndim != 3 or self.mask.shape != self.code.shape[1:]:
            raise ValueError(f"bad iris code shapes {self.code.shape} / {self.mask.shape}")
        if self.code.dtype != bool or self.mask.dtype != bool:
            raise ValueError("iris code and mask must be boolean")

    @property
    def valid_fraction(self) -> float:
        return float(self.mask.mean())

    def rolled(self, shift: int) -> IrisCode:
        return IrisCode(np.roll(self.code, shift, axis=2), np.roll(self.mask, shift, axis=1))


def log_gabor_1d(n: int, wavelength: float, sigma_on_f: float) -> np.ndarray:
    """Frequency response (length n, FFT order) of a one-sided 1-D log-Gabor filter."""
    f = np.fft.fftfreq(n)
    f0 = 1.0 / wavelength
    out = np.zeros(n)
    pos = f > 0
    out[pos] = np.exp(-(np.log(f[pos] / f0) ** 2) / (2 * np.log(sigma_on_f) ** 2))
    return out * 2.0  # analytic signal: double the positive half


def _gauss_rows(a: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return a
    r = max(1, int(3 * sigma))
    x = np.arange(-r, r + 1, dtype=np.float32)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    k /= k.sum()
    return cv2.filter2D(a, -1, k[:, None], borderType=cv2.BORDER_REFLECT)


def _wrap_box(a: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Box mean with wrap-around along columns (angle) and reflection along rows."""
    p = cols // 2
    padded = np.concatenate([a[:, -p:], a, a[:, :p]], axis=1) if p else a
    out = cv2.blur(padded, (max(1, cols), max(1, rows)), borderType=cv2.BORDER_REFLECT)
    return out[:, p:p + a.shape[1]] if p else out


def encode(norm: NormalizedIris, cfg: EncodingConfig) -> IrisCode:
    tex, valid = norm.texture.astype(np.float32), norm.mask
    h, w = tex.shape
    if w % cfg.positions or h < cfg.rings:
        raise ValueError(f"texture {h}x{w} does not fit {cfg.rings}x{cfg.positions} codes")
    fill = float(tex[valid].mean()) if valid.any() else float(tex.mean())
    x = np.where(valid, tex, fill) - fill
    spec = np.fft.fft(x, axis=1)
    rows = ((np.arange(cfg.rings) + 0.5) * h / cfg.rings).astype(int)
    cols = np.arange(cfg.positions) * (w // cfg.positions)
    planes = []
    mags = np.zeros((cfg.rings, cfg.positions), np.float32)
    vf = valid.astype(np.float32)
    support = np.ones((cfg.rings, cfg.positions), bool)
    for wl in cfg.wavelengths:
        resp = np.fft.ifft(spec * log_gabor_1d(w, wl, cfg.sigma_on_f)[None, :], axis=1)
        re = _gauss_rows(np.ascontiguousarray(resp.real, dtype=np.float32), cfg.radial_sigma)
        im = _gauss_rows(np.ascontiguousarray(resp.imag, dtype=np.float32), cfg.radial_sigma)
        re_s, im_s = re[np.ix_(rows, cols)], im[np.ix_(rows, cols)]
        planes += [re_s > 0, im_s > 0]
        mags += np.hypot(re_s, im_s) / (np.median(np.hypot(re_s, im_s)) + 1e-6)
        frac = _wrap_box(vf, int(round(2 * cfg.radial_sigma + 1)), int(round(wl)))
        support &= frac[np.ix_(rows, cols)] >= cfg.min_support
    mask = support.copy()
    if cfg.fragile_fraction > 0 and mask.any():
        cut = np.quantile(mags[mask], cfg.fragile_fraction)
        mask &= mags > cut
    return IrisCode(code=np.stack(planes).astype(bool), mask=mask)
