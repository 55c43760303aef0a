"""Per-stage view of one iris capture, so a failure on a new camera can be seen.

Writes the segmentation overlay (pupil and limbus circles, eyelid arcs, reflections), the
noise mask on the work image, the unwrapped rubber-sheet strip with its mask, and the iris
code planes, plus a JSON summary of the quality report and segmentation confidence.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from hawiya.biometrics.iris import IrisConfig, analyse

_STRIP_ZOOM = 2  # strip rows are few; enlarge so it can be read


def _u8(a: np.ndarray) -> np.ndarray:
    return np.clip(a, 0, 255).astype(np.uint8)


def overlay(an) -> np.ndarray:
    """BGR work image with the pupil (green), limbus (blue), lids (yellow), reflections (red)."""
    seg = an.segmentation
    bgr = cv2.cvtColor(_u8(seg.image), cv2.COLOR_GRAY2BGR)
    bgr[seg.noise] = (0, 0, 255)
    for c, col in ((seg.pupil, (0, 255, 0)), (seg.iris, (255, 128, 0))):
        cv2.circle(bgr, (round(c.x), round(c.y)), round(c.r), col, 1, cv2.LINE_AA)
        cv2.drawMarker(bgr, (round(c.x), round(c.y)), col, cv2.MARKER_CROSS, 6)
    xs = np.linspace(seg.iris.x - seg.iris.r, seg.iris.x + seg.iris.r, 64, dtype=np.float32)
    for lid in (seg.upper_lid, seg.lower_lid):
        if lid is not None:
            pts = np.stack([xs, lid.ys(xs)], axis=1).round().astype(np.int32)
            cv2.polylines(bgr, [pts], False, (0, 255, 255), 1, cv2.LINE_AA)
    return bgr


def explain(image: np.ndarray, out_dir: str | Path, cfg: IrisConfig | None = None) -> dict:
    """Run the pipeline on ``image`` and write every stage under ``out_dir``; the summary."""
    cfg = cfg or IrisConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    an = analyse(image, cfg)
    files: dict[str, str] = {}

    def save(name: str, img: np.ndarray) -> None:
        path = out / name
        cv2.imwrite(str(path), img)
        files[name.split(".")[0]] = str(path)

    g = np.asarray(image)
    save("input.png", g if g.ndim == 2 else cv2.cvtColor(g[:, :, :3], cv2.COLOR_RGB2BGR))
    if an.segmentation is not None:
        seg = an.segmentation
        save("overlay.png", overlay(an))
        save("mask.png", seg.iris_region().astype(np.uint8) * 255)
    if an.normalized is not None:
        n = an.normalized
        strip = cv2.cvtColor(_u8(n.texture), cv2.COLOR_GRAY2BGR)
        strip[~n.mask] = (strip[~n.mask] * 0.35 + np.array([0, 0, 160])).astype(np.uint8)
        save("strip.png", cv2.resize(strip, None, fx=_STRIP_ZOOM, fy=_STRIP_ZOOM,
                                     interpolation=cv2.INTER_NEAREST))
    if an.code is not None:
        c = an.code
        rows = [np.where(c.mask, np.where(p, 255, 0), 128).astype(np.uint8) for p in c.code]
        sep = np.full((1, c.code.shape[2]), 200, np.uint8)
        planes = np.concatenate([x for r in rows for x in (r, sep)][:-1], axis=0)
        save("code.png", cv2.resize(planes, None, fx=4, fy=4, interpolation=cv2.INTER_NEAREST))
    rep = an.report
    summary = {"ok": rep.ok, "score": rep.score, "reasons": list(rep.reasons),
               "metrics": rep.metrics, "algorithm": cfg.algorithm, "files": files}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    files["summary"] = str(out / "summary.json")
    return summary


__all__ = ["explain", "overlay"]
