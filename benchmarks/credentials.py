"""Signed credential speed: issuance and verification per second, QR codec and card times.

All on ONE core, one process, with synthetic holders (no data needed):

* issuance per second: build the CBOR payload, sign (COSE_Sign1), per algorithm;
* verifications per second: from the QR text (base45, inflate, CBOR, signature, schema,
  dates) -- what an offline verifier does per scanned card -- per algorithm;
* QR text encode and decode, microseconds per credential;
* card rendering (PNG, both sides) and reading the QR back from the card, ms per card.

    python benchmarks/credentials.py
    python benchmarks/credentials.py --seconds 0.5 --json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hawiya.credentials import cards, keys, signed  # noqa: E402
from hawiya.credentials.mrz import build_td1  # noqa: E402

TODAY = date(2026, 6, 1)


def holder(i: int) -> dict:
    return {
        "document_number": f"HW{i:07d}", "document_type": "ID", "surname": "Haddad",
        "given_names": "Amina Sara", "date_of_birth": "1990-02-03", "sex": "F",
        "nationality": "HWY", "issuing_authority": "Ministry of Interior",
        "issue_date": "2024-01-01", "expiry_date": "2034-01-01",
        "face_digest": hashlib.sha256(i.to_bytes(8, "big")).digest(),
    }


def rate(fn, seconds: float) -> tuple[float, int]:
    """Calls per second of ``fn(i)`` over about ``seconds`` (after a short warm-up)."""
    for i in range(20):
        fn(i)
    n, start = 0, time.perf_counter()
    while True:
        for _ in range(50):
            fn(n)
            n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.add_argument("--cards", type=int, default=20, help="cards to render and read")
    parser.add_argument("--json", action="store_true", help="one JSON object as last line")
    args = parser.parse_args()

    results: dict = {"python": platform.python_version(), "machine": platform.machine(),
                     "threads": 1}
    with tempfile.TemporaryDirectory() as tmp:
        for algorithm in ("Ed25519", "ES256"):
            folder = Path(tmp) / algorithm
            keys.create_key(folder, algorithm)
            signer = keys.active_key(folder)
            keyset = keys.KeySet.from_folder(folder)
            texts = [signed.encode_qr_text(signed.issue(holder(i), signer)) for i in range(64)]
            assert all(signed.verify(t, keyset, today=TODAY).valid for t in texts)
            issue_rate, _ = rate(lambda i, s=signer: signed.issue(holder(i % 64), s), args.seconds)
            verify_rate, _ = rate(
                lambda i, t=texts, k=keyset: signed.verify(t[i % 64], k, today=TODAY),
                args.seconds)
            cose = signed.issue(holder(1), signer)
            results[algorithm] = {
                "issuance_per_s": round(issue_rate),
                "verifications_per_s": round(verify_rate),
                "cose_bytes": len(cose),
                "qr_text_chars": len(texts[1]),
            }
        cose = signed.decode_qr_text(texts[1])
        enc_rate, _ = rate(lambda i: signed.encode_qr_text(cose), args.seconds / 2)
        dec_rate, _ = rate(lambda i: signed.decode_qr_text(texts[i % 64]), args.seconds / 2)
        results["qr_encode_us"] = round(1e6 / enc_rate, 1)
        results["qr_decode_us"] = round(1e6 / dec_rate, 1)

        mrz = build_td1(document_number="HW0000001", issuing_state="HWY", nationality="HWY",
                        date_of_birth="1990-02-03", sex="F", date_of_expiry="2034-01-01",
                        surname="Haddad", given_names="Amina Sara", today=TODAY)
        photo = (np.random.default_rng(0).random((480, 360, 3)) * 255).astype(np.uint8)
        render_s, read_s, read_ok = [], [], 0
        for i in range(args.cards):
            t0 = time.perf_counter()
            png = cards.render_card(holder(i), photo, mrz, texts[i % 64])
            t1 = time.perf_counter()
            read_ok += cards.read_qr(png) == texts[i % 64]
            t2 = time.perf_counter()
            render_s.append(t1 - t0)
            read_s.append(t2 - t1)
        results["card_render_png_ms"] = round(1000 * float(np.median(render_s)), 1)
        results["card_read_qr_ms"] = round(1000 * float(np.median(read_s)), 1)
        results["card_qr_read_back"] = f"{read_ok}/{args.cards}"

    for algorithm in ("Ed25519", "ES256"):
        r = results[algorithm]
        print(f"{algorithm:8s} issuance {r['issuance_per_s']:>7,d}/s   verification "
              f"(from QR text) {r['verifications_per_s']:>7,d}/s   {r['cose_bytes']} bytes, "
              f"QR text {r['qr_text_chars']} chars")
    print(f"QR text encode {results['qr_encode_us']} us, decode {results['qr_decode_us']} us")
    print(f"card PNG render {results['card_render_png_ms']} ms, QR read back "
          f"{results['card_read_qr_ms']} ms ({results['card_qr_read_back']} read)")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
