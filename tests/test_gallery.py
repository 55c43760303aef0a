"""The faiss gallery: add/search/remove/replace, restricted search, batch, snapshots, errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from hawiya.errors import InvalidInput
from hawiya.search import FaissGallery, Gallery

DIM = 32
KINDS = ["flat", "hnsw"]


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(params=KINDS)
def kind(request) -> str:
    return request.param


@pytest.fixture
def data():
    rng = np.random.default_rng(42)
    ids = np.arange(1000, 1500, dtype=np.int64) * 7  # non-contiguous ids
    return ids, unit(rng, ids.size)


@pytest.fixture
def gallery(kind, data) -> FaissGallery:
    ids, x = data
    return FaissGallery.from_pairs(DIM, ids, x, kind=kind)


def test_protocol(gallery):
    assert isinstance(gallery, Gallery)
    assert len(gallery) == 500 and gallery.dim == DIM


def test_identical_vector_is_first_with_score_one(gallery, data):
    ids, x = data
    for j in (0, 17, 499):
        hits = gallery.search(x[j], 5)
        assert len(hits) == 5
        assert hits[0][0] == ids[j]
        assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
        scores = [s for _, s in hits]
        assert scores == sorted(scores, reverse=True)
        assert all(isinstance(i, int) and isinstance(s, float) for i, s in hits)


def test_inputs_are_normalised(gallery, data):
    ids, x = data
    hits = gallery.search(x[3] * 12.5, 1)
    assert hits[0][0] == ids[3] and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    g = FaissGallery(DIM, gallery.kind)
    g.add([1], x[:1] * 3)
    assert g.search(x[0], 1)[0][1] == pytest.approx(1.0, abs=1e-5)


def test_remove(gallery, data):
    ids, x = data
    assert gallery.remove([ids[10], ids[11], 123456789]) == 2
    assert len(gallery) == 498
    assert ids[10] not in gallery and ids[12] in gallery
    for hit_id, _ in gallery.search(x[10], 50):
        assert hit_id not in (ids[10], ids[11])
    assert gallery.remove([ids[10]]) == 0


def test_readd_replaces(gallery, data):
    ids, x = data
    rng = np.random.default_rng(7)
    new = unit(rng, 1)
    gallery.add([ids[5]], new)
    assert len(gallery) == 500
    top = gallery.search(new[0], 1)[0]
    assert top[0] == ids[5] and top[1] == pytest.approx(1.0, abs=1e-5)
    # The old vector is gone: searching it must not find ids[5] with score 1.
    assert all(not (i == ids[5] and s > 0.99) for i, s in gallery.search(x[5], 10))
    assert sum(1 for i, _ in gallery.search(new[0], 500) if i == ids[5]) == 1


def test_restrict_to(gallery, data):
    ids, x = data
    allowed = [int(ids[i]) for i in (3, 50, 200, 400)] + [999_999_999]  # unknown id ignored
    hits = gallery.search(x[7], 10, restrict_to=allowed)
    assert len(hits) == 4
    assert {i for i, _ in hits} <= set(allowed)
    # Exact among the allowed ones.
    expect = max(allowed[:4], key=lambda i: float(x[list(ids).index(i)] @ x[7]))
    assert hits[0][0] == expect
    # The query's own id is allowed -> it is first.
    assert gallery.search(x[50], 1, restrict_to=allowed)[0][0] == ids[50]
    assert gallery.search(x[7], 5, restrict_to=[]) == []


def test_restrict_to_large_subset_uses_selector(kind, data):
    ids, x = data
    g = FaissGallery.from_pairs(DIM, ids, x, kind=kind, exact_restrict_max=10, ef_search=200)
    allowed = ids[::2]
    for j in (0, 1, 2, 3):
        hits = g.search(x[j], 5, restrict_to=allowed)
        assert hits and {i for i, _ in hits} <= set(allowed.tolist())
        if j % 2 == 0:
            assert hits[0][0] == ids[j]
    # The selector path and the exact path agree on the top hit.
    exact = FaissGallery.from_pairs(DIM, ids, x, kind="flat")
    assert g.search(x[1], 1, restrict_to=allowed)[0][0] == exact.search(
        x[1], 1, restrict_to=allowed)[0][0]


def test_batch_equals_single(gallery, data):
    ids, x = data
    q = x[[1, 2, 3, 250]] + 0.05 * unit(np.random.default_rng(1), 4)
    for restrict in (None, ids[:20]):
        batch = gallery.search_batch(q, 7, restrict_to=restrict)
        assert len(batch) == 4
        for row, v in zip(batch, q, strict=True):
            single = gallery.search(v, 7, restrict_to=restrict)
            assert [i for i, _ in row] == [i for i, _ in single]
            np.testing.assert_allclose([s for _, s in row], [s for _, s in single], atol=1e-6)


def test_empty_gallery_and_k(kind):
    g = FaissGallery(DIM, kind)
    q = unit(np.random.default_rng(0), 1)[0]
    assert len(g) == 0
    assert g.search(q, 5) == []
    assert g.search_batch(np.stack([q, q]), 5) == [[], []]
    g.add([1, 2, 3], unit(np.random.default_rng(1), 3))
    assert len(g.search(q, 100)) == 3  # k larger than the gallery
    assert g.search(q, 0) == []
    with pytest.raises(InvalidInput):
        g.search(q, -1)
    # Rebuilding from an empty registry gives an empty gallery, not an error.
    empty = FaissGallery.from_pairs(DIM, np.zeros(0, np.int64), np.zeros((0, DIM), np.float32),
                                    kind=kind)
    assert len(empty) == 0 and empty.search(q, 3) == []


def test_wrong_input_raises(kind):
    g = FaissGallery(DIM, kind)
    rng = np.random.default_rng(0)
    with pytest.raises(InvalidInput, match="dimension"):
        g.add([1], unit(rng, 1, DIM + 1))
    with pytest.raises(InvalidInput, match="dimension"):
        g.search(np.ones(DIM - 1, np.float32), 1)
    with pytest.raises(InvalidInput):
        g.add([1, 2], unit(rng, 1))
    with pytest.raises(InvalidInput, match="duplicate"):
        g.add([1, 1], unit(rng, 2))
    with pytest.raises(InvalidInput, match="non-negative"):
        g.add([-1], unit(rng, 1))
    with pytest.raises(InvalidInput, match="zero"):
        g.add([1], np.zeros((1, DIM)))
    with pytest.raises(InvalidInput, match="NaN"):
        g.add([1], np.full((1, DIM), np.nan))
    with pytest.raises(InvalidInput):
        FaissGallery(DIM, "ivf")
    with pytest.raises(InvalidInput):
        FaissGallery(0)


def test_save_load_round_trip(gallery, data, tmp_path):
    ids, x = data
    gallery.remove([ids[0]])
    gallery.add([ids[1]], x[2])  # replaced: an HNSW tombstone survives the snapshot
    path = tmp_path / "snap" / "face.gallery"
    gallery.save(path)
    assert [p.name for p in path.parent.iterdir()] == ["face.gallery"]  # no temp left
    loaded = FaissGallery.load(path, expected_dim=DIM)
    assert loaded.kind == gallery.kind and len(loaded) == len(gallery) == 499
    assert ids[0] not in loaded
    np.testing.assert_array_equal(loaded.ids(), gallery.ids())
    for j in (2, 3, 100):
        assert loaded.search(x[j], 5) == gallery.search(x[j], 5)
    with pytest.raises(InvalidInput, match="dimension"):
        FaissGallery.load(path, expected_dim=DIM * 2)
    loaded.add([1], x[9])  # still mutable after load
    assert loaded.search(x[9], 2)[0][1] == pytest.approx(1.0, abs=1e-5)


def test_load_bad_files(tmp_path):
    with pytest.raises(InvalidInput, match="not found"):
        FaissGallery.load(tmp_path / "none")
    bad = tmp_path / "bad"
    bad.write_bytes(b"hello world")
    with pytest.raises(InvalidInput, match="not a Hawiya gallery"):
        FaissGallery.load(bad)
    g = FaissGallery(DIM)
    g.add([1, 2], unit(np.random.default_rng(0), 2))
    g.save(bad)
    bad.write_bytes(bad.read_bytes()[:-40])
    with pytest.raises(InvalidInput):
        FaissGallery.load(bad)


def test_hnsw_compaction_drops_tombstones(data):
    ids, x = data
    g = FaissGallery.from_pairs(DIM, ids, x, kind="hnsw", compact_ratio=0.25)
    g.remove(ids[:100])
    assert g.tombstones == 100 and len(g) == 400
    g.remove(ids[100:130])  # 130 / 500 >= 25% -> rebuilt
    assert g.tombstones == 0 and len(g) == 370
    assert g.search(x[200], 1)[0][0] == ids[200]
    assert all(i not in set(ids[:130].tolist()) for i, _ in g.search(x[5], 50))


def test_concurrent_search_and_add(kind):
    rng = np.random.default_rng(3)
    g = FaissGallery(DIM, kind)
    base = unit(rng, 200)
    g.add(np.arange(200), base)
    extra = unit(rng, 400)
    errors: list[BaseException] = []

    def searcher() -> None:
        try:
            for j in range(150):
                hits = g.search(base[j % 200], 3)
                assert hits[0][0] == j % 200
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def writer() -> None:
        try:
            for s in range(0, 400, 10):
                g.add(np.arange(1000 + s, 1010 + s), extra[s:s + 10])
                g.remove([1000 + s])
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(3)] + [
        threading.Thread(target=writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(g) == 200 + 400 - 40
