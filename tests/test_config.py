"""The settings object: sources and their priority, validation naming the key, masking, and
the README's example file."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hawiya.biometrics import modalities
from hawiya.config import load_settings
from hawiya.errors import ConfigError

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_file_is_valid(tmp_path, monkeypatch):
    example = re.search(r"```yaml\n(# hawiya.yaml.*?)```", README.read_text(), re.S).group(1)
    path = tmp_path / "hawiya.yaml"
    path.write_text(example)
    monkeypatch.setenv("HAWIYA_CONFIG", str(path))
    s = load_settings(tmp_path)
    modalities.validate(s)
    assert s.keep_raw_images is True
    assert s.modality("face").params["detect"]["detector"] == "cnn"
    # Detector and quality limits do not change what a face template contains.
    assert modalities.algorithm_id(s, "face") == "dlib-resnet/1"


def test_priority_defaults_file_environment_arguments(tmp_path, monkeypatch):
    path = tmp_path / "c.yaml"
    path.write_text("modalities: {face: {thresholds: {verify: 0.95}}}\n"
                    "fusion: {target_fmr: 0.001}\n")
    monkeypatch.setenv("HAWIYA_CONFIG", str(path))
    monkeypatch.setenv("HAWIYA_IRIS_THRESHOLD", "0.7")  # the older flat name
    monkeypatch.setenv("HAWIYA_MODALITIES__FINGER__THRESHOLDS__DEDUP", "0.3")
    monkeypatch.setenv("HAWIYA_FUSION__TARGET_FMR", "0.01")  # environment beats the file
    s = load_settings(tmp_path, credentials={"issuing_state": "LBY"})
    assert s.verify_threshold("face") == 0.95 and s.dedup_threshold("face") == 0.93
    assert s.verify_threshold("iris") == 0.7 and s.dedup_threshold("finger") == 0.3
    assert s.fusion_target_fmr == 0.01 and s.credentials.issuing_state == "LBY"


@pytest.mark.parametrize("override, key", [
    ({"fusion": {"target_fmr": 0}}, "fusion.target_fmr"),
    ({"credentials": {"issuing_state": "utopia"}}, "credentials.issuing_state"),
    ({"modalities": {"iris": {"calibration": [[0.5, 0.9], [0.01, 0.8]]}}},
     "modalities.iris.calibration"),
    ({"auth": {"token_ttl_hours": 0}}, "auth.token_ttl_hours"),
    ({"colour": "blue"}, "colour: unknown setting"),
    ({"database_url": "mysql://x"}, "database_url"),
    ({"template_key": "short"}, "template_key"),
    ({"modalities": {"face": {"thresholds": {"verify": 7}}}},
     "modalities.face: thresholds.verify 7.0 is outside the calibrated range"),
])
def test_bad_values_stop_startup_naming_the_key(tmp_path, override, key):
    with pytest.raises(ConfigError, match=re.escape(key)):
        load_settings(tmp_path, **override)


def test_bad_engine_parameters_stop_startup(tmp_path):
    from hawiya.app import build_platform

    with pytest.raises(ConfigError, match=r"modalities\.face\.params\.detect: unknown face "
                                          r"detector 'fast'"):
        build_platform(load_settings(tmp_path, modalities={
            "face": {"params": {"detect": {"detector": "fast"}}}}))


def test_bad_yaml_is_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "c.yaml"
    path.write_text("modalities: [unclosed\n")
    monkeypatch.setenv("HAWIYA_CONFIG", str(path))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(tmp_path)


def test_config_show_json_masks_secrets(tmp_path):
    key = base64.b64encode(bytes(range(32))).decode()
    env = {"PATH": "/usr/bin:/bin", "HAWIYA_TEMPLATE_KEY": key,
           "HAWIYA_DATABASE_URL": "postgresql+psycopg://u:hunter2@db/hawiya"}
    out = subprocess.run([sys.executable, "-m", "hawiya.cli", "config", "show", "--json",
                          "--data-dir", str(tmp_path)], capture_output=True, text=True,
                         env=env, check=True)
    shown = json.loads(out.stdout.strip().splitlines()[-1])
    assert "hunter2" not in out.stdout and key not in out.stdout
    assert shown["database_url"] == "postgresql+psycopg://u:***@db/hawiya"
    assert shown["template_key"] == "***"
    assert shown["algorithms"] == {"face": "dlib-resnet/1", "iris": "hawiya-iris-loggabor/1",
                                   "finger": "hawiya-finger-leader/1"}


def test_probe_policy_may_change_quality_limits_only(tmp_path):
    from hawiya.app import build_platform

    s = load_settings(tmp_path, modalities={"face": {
        "params": {"quality": {"min_iod_px": 30}},
        "probe_params": {"quality": {"min_iod_px": 16}}}})
    p = build_platform(s)
    enrol, probe = p.biometric_engine("face"), p.biometric_engine("face", "probe")
    assert enrol.config.quality.min_iod_px == 30 and probe.config.quality.min_iod_px == 16
    assert enrol.algorithm == probe.algorithm == "dlib-resnet"
    with pytest.raises(ConfigError, match=r"modalities\.face\.probe_params"):
        build_platform(load_settings(tmp_path, modalities={"face": {
            "probe_params": {"exposure_target": 0.6}}}))
