"""BinaryGallery: add/remove/search/restrict_to/save-load, scores equal to engine.compare."""

from __future__ import annotations

import numpy as np
import pytest

from hawiya.biometrics.iris import encode_payload, get_iris_engine
from hawiya.biometrics.iris_encoding import IrisCode
from hawiya.biometrics.iris_matching import MatchConfig, score_reference
from hawiya.biometrics.template import Template
from hawiya.errors import InvalidInput, TemplateMismatch
from hawiya.search.binary_gallery import BinaryGallery

CFG = MatchConfig(max_shift=8, n_ref=2048, min_overlap=256)


def code(rng, valid=0.7) -> IrisCode:
    return IrisCode(rng.random((4, 8, 128)) < 0.5, rng.random((8, 128)) < valid)


def template(c: IrisCode) -> Template:
    e = get_iris_engine()
    return Template(modality="iris", algorithm=e.algorithm, version=e.version,
                    data=encode_payload(c))


def noisy(c: IrisCode, rng, flip=0.15, roll=0) -> IrisCode:
    bits = c.code ^ (rng.random(c.code.shape) < flip)
    return IrisCode(bits, c.mask.copy()).rolled(roll)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    codes = [code(rng, v) for v in rng.uniform(0.4, 0.9, 600)]  # > 2 scan blocks
    return rng, codes


def test_add_search_remove(data):
    rng, codes = data
    g = BinaryGallery(CFG)
    ids = np.arange(1000, 1000 + len(codes))
    g.add(ids[:300], [template(c) for c in codes[:300]])
    g.add(ids[300:], codes[300:])  # IrisCode objects too
    assert len(g) == 600
    probe = noisy(codes[437], rng, roll=4)
    hits = g.search(template(probe), 5)
    assert hits[0][0] == 1437 and hits[0][1] > 0.65
    assert all(s < 0.65 for _, s in hits[1:])
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    # the score is exactly the engine's 1:1 comparison score
    eng = get_iris_engine()
    assert hits[0][1] == pytest.approx(eng.compare(template(probe), template(codes[437])),
                                       abs=1e-12)
    assert hits[0][1] == pytest.approx(score_reference(probe.code, probe.mask,
                                                       codes[437].code, codes[437].mask,
                                                       CFG), abs=1e-12)
    # remove moves the last entry into the hole; everything stays findable
    assert g.remove([1437, 5, 1599]) == 2
    assert len(g) == 598
    assert g.search(template(probe), 1)[0][0] != 1437
    last = noisy(codes[598], rng)
    assert g.search(last, 1)[0][0] == 1598
    # replacing an id keeps the count
    g.add([1000], [codes[437]])
    assert len(g) == 598 and g.search(probe, 1)[0][0] == 1000
    assert g.search(probe, 0) == [] and len(g.search(probe, 10_000)) == 598


def test_restrict_to(data):
    rng, codes = data
    g = BinaryGallery(CFG)
    g.add(np.arange(len(codes)), codes)
    probe = noisy(codes[10], rng)
    hits = g.search(probe, 3, restrict_to=[1, 2, 3, 999_999])
    assert {i for i, _ in hits} == {1, 2, 3}
    hits = g.search(probe, 3, restrict_to=[10, 20])
    assert hits[0][0] == 10
    assert g.search(probe, 3, restrict_to=[]) == []
    full = dict(zip(*g.scores(probe), strict=True))
    for i, s in g.search(probe, 5, restrict_to=list(range(0, 600, 7))):
        assert s == pytest.approx(full[i], abs=1e-12)


def test_search_batch_and_threads(data):
    rng, codes = data
    g1 = BinaryGallery(CFG)
    g2 = BinaryGallery(CFG, threads=2)
    g1.add(np.arange(len(codes)), codes)
    g2.add(np.arange(len(codes)), codes)
    probes = [noisy(codes[i], rng) for i in (3, 300, 599)]
    out = g1.search_batch(probes, 2)
    assert [h[0][0] for h in out] == [3, 300, 599]
    assert g2.search_batch(probes, 2) == out


def test_save_load(tmp_path, data):
    rng, codes = data
    g = BinaryGallery(CFG)
    g.add(np.arange(len(codes)) * 3, codes)
    g.remove([0, 3])
    path = tmp_path / "iris.gallery"
    g.save(path)
    assert not list(tmp_path.glob("*.tmp"))
    h = BinaryGallery.load(path)
    assert len(h) == len(g) and h.layout == g.layout and h.match == g.match
    probe = noisy(codes[77], rng)
    assert h.search(probe, 4) == g.search(probe, 4)
    empty = BinaryGallery(CFG)
    empty.save(tmp_path / "empty")
    assert len(BinaryGallery.load(tmp_path / "empty")) == 0
    (tmp_path / "bad").write_bytes(b"not a gallery")
    with pytest.raises(InvalidInput):
        BinaryGallery.load(tmp_path / "bad")


def test_bad_input(data):
    rng, codes = data
    g = BinaryGallery(CFG)
    with pytest.raises(InvalidInput):
        g.add([1, 2], codes[:1])
    with pytest.raises(InvalidInput):
        g.add([1, 1], codes[:2])
    g.add([1], codes[:1])
    other = IrisCode(rng.random((2, 8, 128)) < 0.5, rng.random((8, 128)) < 0.7)
    with pytest.raises(InvalidInput):
        g.add([2], [other])  # different layout
    with pytest.raises(InvalidInput):
        g.search(codes[0], -1)
    face = Template(modality="face", algorithm="x", version=1, data=b"")
    with pytest.raises(TemplateMismatch):
        g.search(face, 1)
    assert BinaryGallery(CFG).search(codes[0], 3) == []
