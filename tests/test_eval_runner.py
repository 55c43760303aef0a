"""Dataset loaders and the eval runner, with a tiny deterministic fake engine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hawiya.biometrics.template import Template
from hawiya.errors import InvalidImage, InvalidInput
from hawiya.eval.datasets import Pair, load_dir, load_manifest, load_pairs, load_samples
from hawiya.eval.runner import run_eval

DIM = 16


class FakeEngine:
    """Embeds an image as (identity vector from its colour + small noise), cosine scores.

    Each identity's images share a base colour; a pixel value of 0 in the corner makes
    extraction fail with a quality error (a failure to enrol that is not a decode error).
    """

    modality = "face"
    algorithm = "fake"
    version = 1

    def __init__(self, with_vectors: bool = False):
        if with_vectors:
            self.vectors = self._vectors
        self.compare_calls = 0

    def extract(self, image: np.ndarray, position: str = "unknown") -> Template:
        if image[0, 0, 0] == 0:
            raise InvalidImage("no face found")
        base = np.random.default_rng(int(image[5, 5, 0])).normal(size=DIM)
        noise = np.random.default_rng(int(image[5, 5, 1])).normal(size=DIM) * 0.3
        v = (base + noise).astype(np.float32)
        v /= np.linalg.norm(v)
        return Template(modality="face", algorithm="fake", version=1, data=v.tobytes())

    def extract_batch(self, images):
        out = []
        for img in images:
            try:
                out.append(self.extract(img))
            except InvalidImage as exc:
                out.append(exc)
        return out

    def compare(self, a: Template, b: Template) -> float:
        return float(a.vector() @ b.vector())

    def compare_many(self, probe: Template, gallery) -> np.ndarray:
        self.compare_calls += 1
        if not gallery:
            return np.empty(0, dtype=np.float32)
        return np.stack([g.vector() for g in gallery]) @ probe.vector()

    def _vectors(self, templates) -> np.ndarray:
        return np.stack([t.vector() for t in templates])


def write_img(path: Path, ident: int, k: int, fail: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.full((12, 12, 3), 50, dtype=np.uint8)
    a[5, 5] = (10 + ident, 100 + k, 0)
    if fail:
        a[0, 0, 0] = 0
    Image.fromarray(a).save(path)
    return path


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    # 4 identities x 3 images, one with a nested folder.
    for ident in range(4):
        for k in range(3):
            sub = root / f"person{ident}" / ("extra" if k == 2 and ident == 0 else "")
            write_img(sub / f"img{k}.png", ident, k)
    (root / "MANIFEST").write_text("not an image\n")
    (root / "person1" / "notes.txt").write_text("skip me\n")
    (root / "stray.png").write_bytes((root / "person1" / "img0.png").read_bytes())
    return root


# ------------------------------------------------------------------ datasets


def test_load_dir(dataset: Path):
    s = load_dir(dataset)
    assert len(s) == 12
    assert {x.label for x in s} == {"person0", "person1", "person2", "person3"}
    assert all(x.path.suffix == ".png" for x in s)
    assert any("extra" in str(x.path) for x in s)
    path, label = s[0]  # plain tuples
    assert isinstance(path, Path) and label == "person0"
    assert load_samples(dataset) == s


def test_load_dir_errors(tmp_path: Path):
    with pytest.raises(InvalidInput, match="does not exist"):
        load_dir(tmp_path / "nope")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(InvalidInput, match="no images"):
        load_dir(tmp_path / "empty")
    f = tmp_path / "f.png"
    f.write_bytes(b"x")
    with pytest.raises(InvalidInput, match="not a folder"):
        load_dir(f)


def test_load_manifest(tmp_path: Path, dataset: Path):
    csv = tmp_path / "m.csv"
    csv.write_text("Label,path,extra\nalice,ds/person0/img0.png,1\n\nbob,"
                   f"{dataset / 'person1' / 'img0.png'},2\n")
    s = load_manifest(csv)
    assert [x.label for x in s] == ["alice", "bob"]
    assert s[0].path == tmp_path / "ds/person0/img0.png"
    assert load_samples(csv) == s


@pytest.mark.parametrize("content,match", [
    ("file,label\na.png,x\n", "columns 'path' and 'label'"),
    ("", "empty"),
    ("path,label\n", "no samples"),
    ("path,label\n,x\n", "empty path or label"),
    ("path,label\nmissing.png,x\n", "do not exist"),
])
def test_load_manifest_errors(tmp_path: Path, content: str, match: str):
    csv = tmp_path / "m.csv"
    csv.write_text(content)
    with pytest.raises(InvalidInput, match=match):
        load_manifest(csv)


def test_load_manifest_missing_file(tmp_path: Path):
    with pytest.raises(InvalidInput, match="not found"):
        load_manifest(tmp_path / "none.csv")


def test_load_pairs(tmp_path: Path):
    for name, n in (("Ann_A", 1), ("Ann_A", 2), ("Bob_B", 1)):
        write_img(tmp_path / "lfw" / name / f"{name}_{n:04d}.jpg", 0, n)
    pf = tmp_path / "pairs.txt"
    pf.write_text("1\t2\nAnn_A\t1\t2\nAnn_A 1 Bob_B 1\n")
    pairs = load_pairs(pf, tmp_path / "lfw")
    assert pairs == [
        Pair(tmp_path / "lfw/Ann_A/Ann_A_0001.jpg", tmp_path / "lfw/Ann_A/Ann_A_0002.jpg",
             True, "Ann_A", "Ann_A"),
        Pair(tmp_path / "lfw/Ann_A/Ann_A_0001.jpg", tmp_path / "lfw/Bob_B/Bob_B_0001.jpg",
             False, "Ann_A", "Bob_B"),
    ]
    bad = tmp_path / "bad.txt"
    bad.write_text("Ann_A 1\n")
    with pytest.raises(InvalidInput, match="line 1"):
        load_pairs(bad, tmp_path / "lfw")
    bad.write_text("Ann_A x 2\n")
    with pytest.raises(InvalidInput, match="not an image number"):
        load_pairs(bad, tmp_path / "lfw")
    bad.write_text("Ann_A 1 3\n")
    with pytest.raises(InvalidInput, match="do not exist"):
        load_pairs(bad, tmp_path / "lfw")
    with pytest.raises(InvalidInput, match="not found"):
        load_pairs(tmp_path / "nope.txt")


# ------------------------------------------------------------------ runner

CONTRACT = {"eer", "fnmr_at_fmr", "genuine", "impostor", "failed_to_enrol", "det_plot"}


@pytest.mark.parametrize("with_vectors", [False, True])
def test_run_eval_all_pairs(dataset: Path, tmp_path: Path, with_vectors: bool):
    # An undecodable file and an image the engine rejects: both failures to enrol.
    (dataset / "person2" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    write_img(dataset / "person3" / "noface.png", 3, 9, fail=True)
    engine = FakeEngine(with_vectors=with_vectors)
    res = run_eval(engine, load_dir(dataset), out_dir=tmp_path / "out", name="face",
                   progress=False)
    assert CONTRACT <= set(res)
    assert res["failed_to_enrol"] == 2
    reasons = {Path(f["path"]).name: f["reason"] for f in res["failures"]}
    assert set(reasons) == {"broken.jpg", "noface.png"}
    assert "no face found" in reasons["noface.png"]
    # 12 usable samples, 4 identities x 3: genuine = 4 * C(3,2) = 12, impostor = C(12,2) - 12.
    assert res["genuine"] == 12
    assert res["impostor"] == 66 - 12
    assert res["samples"] == 14 and res["identities"] == 4
    assert set(res["fnmr_at_fmr"]) == {"0.01", "0.001", "0.0001"}
    assert set(res["thresholds_at_fmr"]) == set(res["fnmr_at_fmr"])
    assert all(isinstance(v, float) for v in res["fnmr_at_fmr"].values())
    assert isinstance(res["eer"], float) and 0.0 <= res["eer"] <= 0.2
    assert res["scoring"] == ("matrix" if with_vectors else "compare_many")
    # 54 impostor comparisons cannot resolve FMR 1%: reported, but flagged.
    assert res["fmr_target_reliable"] == {"0.01": False, "0.001": False, "0.0001": False}
    assert any("not reliable" in w for w in res["warnings"])
    assert res["modality"] == "face" and res["algorithm"] == "fake"
    assert {"mean", "std", "min", "max"} <= set(res["genuine_scores"])
    assert res["genuine_scores"]["mean"] > res["impostor_scores"]["mean"]
    assert Path(res["det_plot"]).read_bytes()[:4] == b"\x89PNG"
    assert Path(res["det_plot"]).name == "face-det.png"
    report = json.loads(Path(res["report"]).read_text())
    assert report["eer"] == res["eer"] and report["failed_to_enrol"] == 2


def test_matrix_and_compare_many_agree(dataset: Path, tmp_path: Path):
    a = run_eval(FakeEngine(False), load_dir(dataset), out_dir=tmp_path, name="a",
                 progress=False)
    b = run_eval(FakeEngine(True), load_dir(dataset), out_dir=tmp_path, name="b",
                 progress=False)
    assert a["eer"] == pytest.approx(b["eer"])
    assert a["genuine_scores"]["mean"] == pytest.approx(b["genuine_scores"]["mean"], abs=1e-6)


def test_inconsistent_vectors_fall_back(dataset: Path, tmp_path: Path):
    eng = FakeEngine(True)
    eng.vectors = lambda ts: np.ones((len(ts), 3), np.float32)  # not the engine's score
    res = run_eval(eng, load_dir(dataset), out_dir=tmp_path, name="x", progress=False)
    assert res["scoring"] == "compare_many"
    assert any("differ" in w for w in res["warnings"])


def test_run_eval_explicit_pairs(tmp_path: Path):
    root = tmp_path / "lfw"
    for ident in range(3):
        for k in (1, 2):
            write_img(root / f"P{ident}" / f"P{ident}_{k:04d}.jpg", ident, k)
    (root / "P2" / "P2_0003.jpg").write_bytes(b"garbage")
    pf = tmp_path / "pairs.txt"
    pf.write_text("2 2\nP0 1 2\nP1 1 2\nP2 1 3\nP0 1 P1 1\nP1 2 P2 2\n")
    res = run_eval(FakeEngine(), pairs=load_pairs(pf, root), out_dir=tmp_path / "o",
                   name="lfw", progress=False)
    assert res["protocol"] == "pairs"
    assert res["genuine"] == 2 and res["impostor"] == 2
    assert res["pairs"] == 5 and res["pairs_excluded"] == 1
    assert res["failed_to_enrol"] == 1
    assert res["failures"][0]["path"].endswith("P2_0003.jpg")
    assert res["identities"] == 3


def test_run_eval_needs_genuine_pairs(tmp_path: Path):
    samples = [(write_img(tmp_path / f"p{i}" / "a.png", i, 0), f"p{i}") for i in range(3)]
    with pytest.raises(InvalidInput, match="no genuine comparisons"):
        run_eval(FakeEngine(), samples, out_dir=tmp_path, name="x", progress=False)


def test_run_eval_argument_errors(tmp_path: Path):
    with pytest.raises(InvalidInput):
        run_eval(FakeEngine(), out_dir=tmp_path, name="x", progress=False)
    with pytest.raises(InvalidInput, match="name"):
        run_eval(FakeEngine(), [(tmp_path / "a.png", "a")], out_dir=tmp_path, name="../x",
                 progress=False)


def test_run_eval_progress_bar_does_not_touch_stdout(dataset: Path, tmp_path: Path, capsys):
    run_eval(FakeEngine(), load_dir(dataset), out_dir=tmp_path, name="p", progress=True)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("with_vectors", [False, True])
def test_run_eval_saves_scores(dataset: Path, tmp_path: Path, with_vectors: bool):
    path = tmp_path / "scores" / "face-scores.npz"
    res = run_eval(FakeEngine(with_vectors), load_dir(dataset), out_dir=tmp_path / "out",
                   name="face", progress=False, scores_path=path)
    assert "scores" not in res  # the report (the --json contract) is unchanged
    with np.load(path) as z:
        gen, imp = z["genuine"], z["impostor"]
        assert str(z["modality"]) == "face" and str(z["algorithm"]) == "fake"
    assert gen.dtype == np.float64 and imp.dtype == np.float64
    assert gen.size == res["genuine"] and imp.size == res["impostor"]
    assert gen.mean() == pytest.approx(res["genuine_scores"]["mean"], abs=1e-6)
    assert not list(path.parent.glob("*.tmp"))
    # Off by default: nothing but the report and the DET plot.
    run_eval(FakeEngine(), load_dir(dataset), out_dir=tmp_path / "o2", name="face",
             progress=False)
    assert sorted(p.name for p in (tmp_path / "o2").iterdir()) == [
        "face-det.png", "face-report.json"]


def test_generalised_rates_count_failures_to_enrol():
    """ISO/IEC 19795-1: a genuine pair that could not be compared is a false non-match."""
    from types import SimpleNamespace

    from hawiya.eval.runner import generalised_rates

    rep = SimpleNamespace(points=[SimpleNamespace(target_fmr=0.01, fnmr=0.1, fmr=0.01)])
    g = generalised_rates(rep, (100, 1000), genuine=80, impostor=900)
    assert g["genuine_pairs_failed"] == 20
    assert g["gfnmr_at_fmr"]["0.01"] == pytest.approx((20 + 8) / 100)
    assert g["gfmr_at_fmr"]["0.01"] == pytest.approx(0.01 * 0.9)
