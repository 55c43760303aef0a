"""``hawiya iris explain``: every stage of one capture written as an image plus a summary."""

from __future__ import annotations

import json

import cv2
from typer.testing import CliRunner

from hawiya.biometrics.iris_explain import explain
from hawiya.cli import app
from tests.test_iris import synthetic_eye


def test_explain_writes_every_stage(tmp_path):
    res = explain(synthetic_eye(3), tmp_path)
    assert res["ok"], res
    for name in ("overlay", "mask", "strip", "code", "summary"):
        assert (tmp_path / f"{name}.png" if name != "summary" else tmp_path / "summary.json"
                ).is_file(), name
    m = res["metrics"]
    assert 0.0 <= m["segmentation_confidence"] <= 1.0
    assert m["segmentation_confidence"] > 0.8  # a drawn eye has clean boundaries
    assert {"usable_iris_fraction", "pupil_iris_ratio", "focus", "occlusion",
            "gaze_offset"} <= set(m)


def test_explain_cli(tmp_path):
    img = tmp_path / "eye.png"
    cv2.imwrite(str(img), synthetic_eye(4))
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["iris", "explain", str(img), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output.strip().splitlines()[-1])
    assert res["ok"] and (out / "overlay.png").is_file()


def test_explain_blank_image_reports_failure(tmp_path):
    res = explain(cv2.UMat(120, 160, cv2.CV_8UC1, 128).get(), tmp_path)
    assert not res["ok"] and res["reasons"]
    assert (tmp_path / "summary.json").is_file()


def test_segmentation_setting_changes_algorithm_id():
    import dataclasses

    from hawiya.biometrics.iris import IrisConfig
    from hawiya.biometrics.iris_spec import SPEC
    from hawiya.biometrics.modalities import algorithm_name

    kind = SPEC.engines["hawiya-iris-loggabor"]
    base = IrisConfig()
    assert algorithm_name(kind, base) == "hawiya-iris-loggabor"
    seg = dataclasses.replace(base.segmentation, pupil_edge_quantile=-1.0)
    assert algorithm_name(kind, dataclasses.replace(base, segmentation=seg)) != \
        "hawiya-iris-loggabor"
    q = dataclasses.replace(base.quality, min_focus=10.0)  # the gate does not change templates
    assert algorithm_name(kind, dataclasses.replace(base, quality=q)) == "hawiya-iris-loggabor"
