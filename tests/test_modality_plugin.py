"""A modality is a plug-in: a fake one, registered here with one ModalitySpec and one config
section, enrols, de-duplicates, verifies and identifies through identity, the API and the
CLI without any change to them. Changing a template-affecting parameter changes its
algorithm id; old templates are never compared with new ones and re-extraction upgrades
them from kept raw captures.

The fake "palm" engine is deliberately trivial (a normalised thumbnail): this tests the
plumbing, not accuracy.
"""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from hawiya.app import build_platform
from hawiya.biometrics import modalities
from hawiya.biometrics.capture import Capture
from hawiya.biometrics.modalities import EngineKind, ModalitySpec
from hawiya.biometrics.template import Template
from hawiya.config import load_settings
from hawiya.errors import Conflict, InvalidInput, TemplateMismatch
from hawiya.identity import service, upgrade
from hawiya.identity.persons import Demographics
from hawiya.search.vector_gallery import VectorTemplateGallery


@dataclasses.dataclass(frozen=True)
class PalmConfig:
    grid: int = 4
    name: str = ""


class PalmEngine:
    modality, version = "palm", 1

    def __init__(self, cfg: PalmConfig, algorithm: str):
        self.cfg, self.algorithm = cfg, algorithm
        self.dim = cfg.grid * cfg.grid * 3

    def extract(self, image: np.ndarray, position: str = "unknown") -> Template:
        img = np.asarray(Image.fromarray(image).convert("RGB").resize(
            (self.cfg.grid, self.cfg.grid), Image.BOX), np.float32).ravel()
        img -= img.mean()
        v = img / (np.linalg.norm(img) + 1e-9)
        return Template(modality="palm", algorithm=self.algorithm, version=1,
                        data=v.astype(np.float32).tobytes(), quality=80, position=position)

    def vectors(self, templates) -> np.ndarray:
        for t in templates:
            if t.algorithm_id != f"{self.algorithm}/1":
                raise TemplateMismatch(f"{t.algorithm_id} is not {self.algorithm}/1")
        return np.vstack([np.frombuffer(t.data, np.float32) for t in templates])

    def compare_many(self, probe, gallery) -> np.ndarray:
        return self.vectors(gallery) @ self.vectors([probe])[0]


PALM = ModalitySpec(
    name="palm", positions=("left-palm", "right-palm", "unknown"),
    engines={"thumb": EngineKind(name="thumb", version=1, default_config=PalmConfig,
                                 build=lambda cfg, algo: PalmEngine(cfg, algo),
                                 neutral_params=("name",))},
    new_gallery=lambda engine: VectorTemplateGallery(engine),
    load_gallery=lambda path, engine: VectorTemplateGallery.load(path, engine),
    labelled=True, label_noun="palm", unique_positions=True, max_per_request=2)

SECTION = {"engine": "thumb", "thresholds": {"verify": 0.9, "dedup": 0.85},
           "calibration": [(0.5, 0.0), (1e-2, 0.85), (1e-3, 0.9), (1e-6, 0.95)]}


def palm_png(person: int, noise: int = 0) -> bytes:
    """A 'palm' of one person: that person's 4x4 colour pattern, upsampled, plus noise."""
    base = np.random.default_rng(person).integers(0, 256, (4, 4, 3)).astype(np.float32)
    img = np.kron(base, np.ones((16, 16, 1), np.float32))
    img += np.random.default_rng(1000 * person + noise).normal(0, 6, img.shape) * (noise > 0)
    buf = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def palm_platform(tmp_path):
    modalities.register(PALM)
    settings = load_settings(tmp_path / "data", modalities={"palm": SECTION},
                             keep_raw_images=True)
    platform = build_platform(settings)
    platform.init()
    yield platform
    platform.engine.dispose()
    modalities.unregister("palm")


def _palm(person, noise=0, position="right-palm"):
    return [Capture("palm", palm_png(person, noise), position)]


def test_fake_modality_through_identity(palm_platform):
    p = palm_platform
    a = service.enroll(p, demographics=Demographics.parse("Palm A"), actor="t",
                       captures=_palm(1))
    b = service.enroll(p, demographics=Demographics.parse("Palm B"), actor="t",
                       captures=_palm(2))
    assert a.status == b.status == "enrolled" and a.modalities == ["palm"]
    again = service.enroll(p, demographics=Demographics.parse("A again"), actor="t",
                           captures=_palm(1, noise=1))
    assert again.status == "potential_duplicate"
    assert again.candidates[0].person_id == a.person_id
    assert service.verify(p, a.person_id, _palm(1, noise=2), actor="t").match
    assert not service.verify(p, a.person_id, _palm(2, noise=2), actor="t").match
    found = service.identify(p, _palm(2, noise=3), actor="t", top=2)
    assert found.candidates[0].person_id == b.person_id and found.gallery_size == 3
    with pytest.raises(InvalidInput, match="palm position"):
        service.enroll(p, demographics=Demographics.parse("X"), actor="t",
                       captures=_palm(3, position="third-palm"))
    with pytest.raises(InvalidInput, match="two images for right-palm"):
        service.enroll(p, demographics=Demographics.parse("X"), actor="t",
                       captures=_palm(3) + _palm(3, noise=1))


def test_fake_modality_through_api_and_cli(palm_platform, tmp_path):
    from hawiya.api.app import create_app

    p = palm_platform
    from hawiya import auth

    with p.transaction() as s:
        auth.create_user(s, "admin", "correct horse battery", "admin")
    client = TestClient(create_app(p))
    token = client.post("/auth/token", data={"username": "admin",
                                             "password": "correct horse battery"}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    r = client.post("/persons", data={"name": "Palm API", "capture_label": "palm:left-palm"},
                    files=[("capture", ("p.png", palm_png(5), "image/png"))], headers=headers)
    assert r.status_code == 201, r.text
    pid = r.json()["person_id"]
    r = client.post(f"/persons/{pid}/verify", data={"capture_label": "palm:left-palm"},
                    files=[("capture", ("p.png", palm_png(5, 1), "image/png"))],
                    headers=headers)
    assert r.status_code == 200 and r.json()["match"] is True, r.text
    r = client.post("/identify", data={"capture_label": "palm"},
                    files=[("capture", ("p.png", palm_png(5, 2), "image/png"))],
                    headers=headers)
    assert r.status_code == 200 and r.json()["candidates"][0]["person_id"] == pid
    r = client.post("/identify", data={"capture_label": "tail"},
                    files=[("capture", ("p.png", palm_png(5, 2), "image/png"))],
                    headers=headers)
    assert r.status_code == 422 and "unknown modality 'tail'" in r.json()["message"]

    # The CLI takes the same generic capture (the modality is registered in-process here,
    # so the command runs through typer's runner rather than a subprocess).
    import yaml
    from typer.testing import CliRunner

    from hawiya.cli import app

    image = tmp_path / "palm.png"
    image.write_bytes(palm_png(5, 4))
    config = tmp_path / "hawiya.yaml"
    config.write_text(yaml.safe_dump({"modalities": {"palm": {
        **SECTION, "calibration": [list(pt) for pt in SECTION["calibration"]]}}}))
    res = CliRunner().invoke(app, ["identify", "--capture", f"palm={image}", "--json",
                                   "--data-dir", str(p.settings.data_dir)],
                             env={"HAWIYA_CONFIG": str(config)})
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["candidates"][0]["person_id"] == pid


def test_parameter_change_is_a_new_algorithm_and_reextract_upgrades(palm_platform):
    p = palm_platform
    a = service.enroll(p, demographics=Demographics.parse("Old"), actor="t",
                       captures=_palm(7))
    assert modalities.algorithm_id(p.settings, "palm") == "thumb/1"
    changed = load_settings(p.settings.data_dir, p.settings.database_url,
                            modalities={"palm": dict(SECTION, params={"grid": 8})},
                            keep_raw_images=True)
    q = build_platform(changed)
    new_id = modalities.algorithm_id(changed, "palm")
    assert new_id.startswith("thumb+") and new_id.endswith("/1")
    status = upgrade.status(q)
    assert status.stale == 1 and not status.algorithms[0].current
    # Old templates are never compared with new ones, and never searched.
    with pytest.raises(Conflict, match="earlier algorithm"):
        service.verify(q, a.person_id, _palm(7, noise=1), actor="t")
    found = service.identify(q, _palm(7, noise=1), actor="t")
    assert found.candidates == [] and "earlier algorithm were not searched" in found.reason
    # De-duplication would miss the old templates' owners: enrolment waits for the upgrade.
    with pytest.raises(Conflict, match="earlier algorithm"):
        service.enroll(q, demographics=Demographics.parse("Dup"), actor="t",
                       captures=_palm(7, noise=2))
    done = upgrade.reextract(q, "thumb/1", actor="t")
    assert (done.reextracted, done.failed, done.to_algorithm) == (1, 0, new_id)
    assert service.verify(q, a.person_id, _palm(7, noise=1), actor="t").match
    assert upgrade.status(q).stale == 0
    q.engine.dispose()


def test_bad_config_names_the_key(tmp_path):
    from hawiya.errors import ConfigError

    with pytest.raises(ConfigError, match=r"modalities\.face\.thresholds\.verify"):
        load_settings(tmp_path, modalities={"face": {"thresholds": {"verify": "high"}}})
    with pytest.raises(ConfigError, match=r"modalities\.face\.engine: unknown engine"):
        build_platform(load_settings(tmp_path, modalities={"face": {"engine": "magic"}}))
    with pytest.raises(ConfigError, match=r"modalities\.iris\.params\.normalization\.bogus"):
        build_platform(load_settings(tmp_path, modalities={
            "iris": {"params": {"normalization": {"bogus": 1}}}}))
    bad = tmp_path / "bad.yaml"
    bad.write_text("fusion: {target_fmr: 2}\n")
    out = subprocess.run([sys.executable, "-m", "hawiya.cli", "config", "show"],
                         capture_output=True, text=True,
                         env={"HAWIYA_CONFIG": str(bad), "PATH": "/usr/bin:/bin"})
    assert out.returncode != 0 and "fusion.target_fmr" in out.stderr
    assert "Traceback" not in out.stderr
