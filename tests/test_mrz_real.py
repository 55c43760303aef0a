"""MRZ reading from real document photos (the shared set ``mrz/``: PassportEye's regression
images, 33 passports, ID cards and visas photographed or scanned at varied angles).

The PP-OCR reader is held to a floor a little under what was measured (31 of 33 exact, no
reading valid yet wrong), so that a regression fails without the test being flaky. Also:
quarter turns, a photo without a document, an MRZ with its last line cut off, and
``hawiya eval mrz``. Skipped when the shared data is not there.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from hawiya.eval.mrz import evaluate, load_mrz_manifest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MANIFEST = DATA / "mrz" / "mrz_dev.csv"
FACE = DATA / "face" / "yale" / "subject01" / "subject01.normal.jpg"
TODAY = date(2026, 1, 1)
EXACT_FLOOR = 28            # measured 31 of 33
MAX_SILENT = 2              # measured 0

pytestmark = pytest.mark.skipif(not MANIFEST.is_file(), reason="shared MRZ photos not available")


@pytest.fixture(scope="module")
def samples():
    return load_mrz_manifest(MANIFEST)


@pytest.fixture(scope="module")
def report(samples):
    return evaluate(samples, today=TODAY)


def _sample(samples, name):
    return next((p, t) for p, t in samples if p.name == name)


def test_exact_reads_and_silent_misreads(report):
    for item in report["per_image"]:
        if not item["exact"]:
            print(Path(item["path"]).name, item["read"], item["errors"][:2])
    print({k: v for k, v in report.items() if k != "per_image"})
    assert report["n"] == 33
    assert report["exact"] >= EXACT_FLOOR
    assert report["silent_misreads"] <= MAX_SILENT
    assert report["found"] >= EXACT_FLOOR
    assert report["character_accuracy"] >= 0.97


def test_check_digits_printed_wrong_still_fail(report):
    """Specimens whose check digits are invalid as printed: read, and reported failing."""
    by_name = {Path(i["path"]).name: i for i in report["per_image"]}
    for name in ("passporteye__77_card-cmw.png", "passporteye__33_id-usa.jpg"):
        item = by_name[name]
        assert item["found"] and not item["valid"]
        assert any("check digit" in e["reason"] for e in item["errors"]), item["errors"]


@pytest.mark.parametrize("quarters", [1, 2, 3])
def test_turned_photo_reads_the_same(samples, quarters):
    from hawiya.credentials.mrz_ocr import read_mrz
    from hawiya.imaging import load_image

    path, truth = _sample(samples, "passporteye__100_pass-cze.jpg")
    turned = np.ascontiguousarray(np.rot90(load_image(path), quarters))
    result = read_mrz(turned, today=TODAY)
    assert result["lines"] == truth
    assert result["valid"], result["errors"]


def test_photo_without_a_document():
    from hawiya.credentials.mrz_ocr import read_mrz

    if not FACE.is_file():
        pytest.skip("shared face photos not available")
    result = read_mrz(FACE, today=TODAY)
    assert result["found"] is False and result["valid"] is False
    assert result["errors"] and result["lines"] == []


def test_mrz_with_its_last_line_cut_off(samples):
    from hawiya import ocr
    from hawiya.credentials.mrz_ocr import read_mrz
    from hawiya.imaging import load_image

    path, truth = _sample(samples, "passporteye__100_pass-hrv.jpg")
    image = load_image(path)
    last = max((b for b in ocr.detect_text(image) if b.length > 20 * b.height),
               key=lambda b: b.cy)
    cut = image[:int(last.cy - 0.4 * last.height)]
    result = read_mrz(cut, today=TODAY)
    assert result["valid"] is False
    assert result["lines"] != truth
    assert result["errors"] and all(e["reason"] for e in result["errors"])


def test_eval_command_json(tmp_path, samples):
    from typer.testing import CliRunner

    from hawiya.cli import app

    manifest = tmp_path / "three.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "mrz"])
        for path, truth in samples[:3]:
            writer.writerow([str(path), "\\n".join(truth)])
    run = CliRunner().invoke(app, ["eval", "mrz", "--manifest", str(manifest), "--json"])
    assert run.exit_code == 0, run.output
    res = json.loads(run.stdout.strip().splitlines()[-1])
    assert {"n", "exact", "exact_rate", "found", "valid", "character_accuracy",
            "silent_misreads", "ms_per_image", "per_image"} <= set(res)
    assert res["n"] == 3 and 0.0 <= res["character_accuracy"] <= 1.0
    assert {"path", "truth", "read", "exact", "valid", "errors"} <= set(res["per_image"][0])
    assert res["per_image"][0]["truth"] == samples[0][1]
