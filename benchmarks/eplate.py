"""Signed e-plate size and speed: bytes on the tag against the budget, issuance and
verifications per second (from raw tag bytes and from the windscreen QR text).

All on ONE core, one process, with synthetic plates (no data needed):

* sizes: the COSE credential for a typical Libyan plate and for the largest fields the
  schema allows (16-character plate, US-state country, 8-character class), per algorithm,
  against :data:`hawiya.vehicles.eplate.TAG_USER_MEMORY_BYTES`;
* issuance per second (payload, COSE_Sign1 signature) per algorithm;
* verifications per second from the tag bytes (padded to words, as a reader returns them)
  and from the QR text: format, key, signature, schema, expiry, and a look-up in a
  revocation list of 100,000 entries.

    python benchmarks/eplate.py
    python benchmarks/eplate.py --seconds 0.5 --json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hawiya.credentials import keys  # noqa: E402
from hawiya.vehicles import eplate  # noqa: E402

TODAY = date(2026, 6, 1)
# A revocation list of 100,000 plates, indexed once as a verifier keeps it.
REVOKED = eplate.revocation_index(
    {"document_number": f"EP{i:08d}", "status": "revoked", "since": "2026-01-01"}
    for i in range(100_000))


def fields(i: int, *, largest: bool = False) -> dict:
    base = {"serial": f"EPX{i % 10_000_000:07d}", "plate": f"5{i % 10_000_000:07d}",
            "country": "LY", "vin": "1HGCM82633A004352", "vehicle_class": "M1",
            "issued_on": date(2026, 1, 1), "expires_on": date(2031, 1, 1)}
    if largest:
        base.update(plate="W" * 16, country="US-CA", vehicle_class="ABCDEFGH")
    return base


def rate(fn, seconds: float) -> float:
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
            return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.add_argument("--json", action="store_true", help="one JSON object as last line")
    args = parser.parse_args()

    results: dict = {"python": platform.python_version(), "machine": platform.machine(),
                     "threads": 1, "tag_budget_bytes": eplate.TAG_USER_MEMORY_BYTES}
    with tempfile.TemporaryDirectory() as tmp:
        for algorithm in ("Ed25519", "ES256"):
            folder = Path(tmp) / algorithm
            keys.create_key(folder, algorithm)
            signer = keys.active_key(folder)
            keyset = keys.KeySet.from_folder(folder)
            tags = [eplate.tag_image(eplate.issue(fields(i), signer)) for i in range(64)]
            texts = [eplate.encode_qr_text(eplate.issue(fields(i), signer)) for i in range(64)]
            assert all(eplate.verify(t, keyset, today=TODAY, revoked=REVOKED).valid
                       for t in tags + texts)
            typical = eplate.issue(fields(1), signer)
            largest = eplate.issue(fields(1, largest=True), signer)
            assert len(largest) <= eplate.TAG_USER_MEMORY_BYTES
            results[algorithm] = {
                "cose_bytes": len(typical), "largest_cose_bytes": len(largest),
                "qr_text_chars": len(eplate.encode_qr_text(typical)),
                "issuance_per_s": round(rate(
                    lambda i, s=signer: eplate.issue(fields(i), s), args.seconds)),
                "verifications_per_s_tag": round(rate(
                    lambda i, t=tags, k=keyset: eplate.verify(t[i % 64], k, today=TODAY,
                                                              revoked=REVOKED),
                    args.seconds)),
                "verifications_per_s_qr": round(rate(
                    lambda i, t=texts, k=keyset: eplate.verify(t[i % 64], k, today=TODAY,
                                                               revoked=REVOKED),
                    args.seconds)),
            }

    print(f"tag budget {results['tag_budget_bytes']} bytes (2 kbit user memory)")
    for algorithm in ("Ed25519", "ES256"):
        r = results[algorithm]
        print(f"{algorithm:8s} {r['cose_bytes']} bytes (largest {r['largest_cose_bytes']}), "
              f"QR {r['qr_text_chars']} chars; issuance {r['issuance_per_s']:>7,d}/s, "
              f"verification from tag {r['verifications_per_s_tag']:>7,d}/s, from QR "
              f"{r['verifications_per_s_qr']:>7,d}/s")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
