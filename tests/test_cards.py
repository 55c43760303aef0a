"""Card rendering: size, QR read back and verified, MRZ printed in OCR-B read back valid."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import date

import cv2
import numpy as np
import pytest
from PIL import Image

from hawiya.credentials import cards, keys, signed
from hawiya.credentials.mrz_build import build_td1
from hawiya.credentials.mrz_parse import parse_mrz
from hawiya.errors import InvalidImage, InvalidInput

TODAY = date(2026, 6, 1)
FIELDS = {
    "document_number": "HW1234567", "document_type": "ID", "surname": "حداد",
    "given_names": "Amina Sara", "date_of_birth": "1990-02-03", "sex": "F",
    "nationality": "HWY", "issuing_authority": "Ministry of Interior",
    "issue_date": "2024-01-01", "expiry_date": "2034-01-01",
    "face_digest": hashlib.sha256(b"template").digest(),
}
MRZ = build_td1(document_number="HW1234567", issuing_state="HWY", nationality="HWY",
                date_of_birth="1990-02-03", sex="F", date_of_expiry="2034-01-01",
                surname="Haddad", given_names="Amina Sara", today=TODAY)


@pytest.fixture(scope="module", params=["Ed25519", "ES256"])
def card(tmp_path_factory, request):
    folder = tmp_path_factory.mktemp("issuer")
    keys.create_key(folder, request.param)
    qr_text = signed.encode_qr_text(signed.issue(FIELDS, folder))
    yy, xx = np.mgrid[0:480, 0:360]
    photo = np.stack([(yy // 2) % 256, (xx // 2) % 256, np.full_like(yy, 128)], -1)
    png = cards.render_card({**FIELDS, "title": "HAWIYA NATIONAL ID"},
                            photo.astype(np.uint8), MRZ, qr_text)
    return png, qr_text, keys.KeySet.from_folder(folder)


def test_png_is_id1_front_and_back_at_300_dpi(card):
    png = card[0]
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG"
    assert cards.CARD_PX == (1011, 638)  # 85.6 x 54 mm at 300 dpi
    w, h = cards.CARD_PX
    assert img.size == (w + 2 * cards.MARGIN, 2 * h + 3 * cards.MARGIN)
    assert round(img.info["dpi"][0]) == 300


def test_qr_reads_back_and_verifies(card):
    png, qr_text, keyset = card
    read = cards.read_qr(png)
    assert read == qr_text
    v = signed.verify(read, keyset, today=TODAY)
    assert v.valid, v.to_dict()
    assert v.payload["surname"] == "حداد"


def test_mrz_on_card_reads_back_valid(card):
    mrz_ocr = pytest.importorskip("hawiya.credentials.mrz_ocr")
    if cards.mrz_font_path() is None or "OCRB" not in cards.mrz_font_path():
        pytest.skip("OCR-B typeface (fonts-ocr-b) not installed")
    result = mrz_ocr.read_mrz(card[0], today=TODAY)
    assert result["found"] and result["valid"], result["errors"]
    assert result["lines"] == MRZ.splitlines()
    assert result["repaired"] == []
    parsed = parse_mrz("\n".join(result["lines"]), today=TODAY)
    assert parsed.valid and parsed.fields["document_number"] == "HW1234567"


def test_scanned_card_still_reads(card):
    """A tilted, blurred, lower-resolution copy (a phone photo of the card, roughly)."""
    png, qr_text, keyset = card
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 4.0, 0.6)
    m[:, 2] += (0.2 * w, 0.2 * h)
    photo = cv2.warpAffine(rgb, m, (w, h), borderValue=(255, 255, 255))
    photo = cv2.GaussianBlur(photo, (3, 3), 0)
    noise = np.random.default_rng(1).normal(0, 6, photo.shape)
    photo = np.clip(photo + noise, 0, 255).astype(np.uint8)
    read = cards.read_qr(photo)
    assert read == qr_text
    assert signed.verify(read, keyset, today=TODAY).valid


def test_pdf_has_two_card_size_pages(card):
    _, qr_text, _ = card
    pdf = cards.render_card(FIELDS, None, MRZ.splitlines(), qr_text, fmt="pdf")
    assert pdf.startswith(b"%PDF")
    boxes = re.findall(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert len(boxes) == 2
    for width, height in boxes:  # points: 85.6 mm = 242.65 pt, 54 mm = 153.07 pt
        assert abs(float(width) - 242.65) < 0.5 and abs(float(height) - 153.07) < 0.5


def test_render_without_photo_and_grayscale_photo(card):
    _, qr_text, _ = card
    for photo in (None, np.full((100, 80), 200, np.uint8),
                  np.zeros((90, 70, 4), np.uint8)):
        png = cards.render_card(FIELDS, photo, MRZ, qr_text)
        assert cards.read_qr(png) == qr_text


@pytest.mark.parametrize("kwargs, message", [
    ({"mrz_lines": ["A" * 30, "B" * 30]}, "3 lines"),
    ({"mrz_lines": ["a" * 30] * 3}, "A-Z"),
    ({"qr_text": ""}, "qr_text"),
    ({"qr_text": "HW1:" + "A" * 5000}, "qr_text"),
    ({"photo": np.zeros((50, 50), np.float32)}, "uint8"),
    ({"fmt": "svg"}, "png or pdf"),
])
def test_render_rejects_bad_input(card, kwargs, message):
    args = {"fields": FIELDS, "photo": None, "mrz_lines": MRZ, "qr_text": card[1], **kwargs}
    fmt = args.pop("fmt", "png")
    with pytest.raises(InvalidInput, match=message):
        cards.render_card(**args, fmt=fmt)


def test_read_qr_without_code_and_bad_images():
    assert cards.read_qr(np.full((300, 400, 3), 255, np.uint8)) is None
    assert cards.read_qr(np.zeros((5, 5), np.uint8)) is None
    with pytest.raises(InvalidImage):
        cards.read_qr(b"not an image")
    with pytest.raises(InvalidInput):
        cards.read_qr(np.zeros((50, 50, 2), np.uint8))
