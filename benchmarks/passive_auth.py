"""eMRTD passive authentication speed: verifications per second of one chip read.

One process, one core, synthetic chip (no data needed): a CSCA and a Document Signer made
with :mod:`hawiya.credentials.emrtd_build`, and a SOD over DG1 (TD3 MRZ), DG2 (a ~15 KB
JPEG portrait in an ISO 19794-5 record) and a DG14-like blob (security infos, ~300 bytes).
Each verification is the whole :func:`~hawiya.credentials.emrtd.verify_passive`: parse the
SOD, find and check the CSCA, the DSC's signature and dates, the SOD's signature, every
data-group hash, the MRZ against the printed one, and the face image extraction.

    python benchmarks/passive_auth.py
    python benchmarks/passive_auth.py -n 200 --key rsa2048 --json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hawiya.credentials import emrtd_build as build  # noqa: E402
from hawiya.credentials.emrtd import verify_passive  # noqa: E402
from hawiya.credentials.emrtd_csca import CscaStore  # noqa: E402
from hawiya.credentials.emrtd_lds import tlv  # noqa: E402

TODAY = date(2026, 6, 1)
MRZ = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"
       "L898902C36UTO7408122F1204159ZE184226B<<<<<10")


def portrait(target: int = 15_000) -> bytes:
    """A 360x480 JPEG of at most ``target`` bytes (a gradient plus a little noise)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:480, 0:360]  # ICAO portraits are about 3:4
    base = np.stack([x * 0.8 + 40, y * 0.6 + 30, (x + y) * 0.4 + 60], axis=-1)
    pixels = np.clip(base + rng.normal(0, 5, base.shape), 0, 255).astype(np.uint8)
    best = b""
    for quality in range(95, 10, -5):
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, "JPEG", quality=quality)
        best = buf.getvalue()
        if len(best) <= target:
            break
    return best


def chip(key: str) -> tuple[CscaStore, bytes, dict[int, bytes], tempfile.TemporaryDirectory]:
    csca = build.make_csca("UTO", key, date(2020, 1, 1), date(2040, 1, 1))
    dsc = build.make_dsc(csca, key=key, not_before=date(2024, 1, 1), not_after=date(2034, 1, 1))
    security_infos = tlv(0x31, b"".join(
        tlv(0x30, tlv(0x06, bytes.fromhex("04007f00070202030201")) + tlv(0x02, b"\x01")
            + tlv(0x30, os.urandom(80))) for _ in range(3)))
    dgs = {1: build.build_dg1(MRZ), 2: build.build_dg2(portrait()),
           14: build.build_dg(14, security_infos)}
    sod = build.build_sod(dgs, dsc)
    folder = tempfile.TemporaryDirectory(prefix="hawiya-csca-")
    store = CscaStore(folder.name)
    store.add_pem(csca.pem)
    return store, sod, dgs, folder


def _progress(enabled: bool):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    console=Console(stderr=True), disable=not enabled, transient=True)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=2000, help="verifications to time")
    ap.add_argument("--key", default="ecdsa-p256", choices=sorted(build.KEY_TYPES),
                    help="CSCA and Document Signer key type")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--json", action="store_true", help="print one JSON object last")
    args = ap.parse_args(argv)
    n = max(1, args.n)

    store, sod, dgs, folder = chip(args.key)
    with folder:
        first = verify_passive(sod, dgs, store, printed_mrz=MRZ, today=TODAY)
        if not first.valid:
            raise SystemExit(f"the synthetic chip does not verify: {first.reason}")
        for _ in range(min(20, n)):  # warm caches (key loading, curve tables)
            verify_passive(sod, dgs, store, printed_mrz=MRZ, today=TODAY)
        times = []
        with _progress(sys.stderr.isatty() and not args.no_progress) as bar:
            task = bar.add_task("passive authentication", total=n)
            for _ in range(n):
                t = time.perf_counter()
                result = verify_passive(sod, dgs, store, printed_mrz=MRZ, today=TODAY)
                times.append(time.perf_counter() - t)
                assert result.valid
                bar.advance(task)
    mean = statistics.fmean(times)
    ordered = sorted(times)
    report = {
        "n": n, "key": args.key, "python": platform.python_version(),
        "machine": platform.machine(), "threads": 1,
        "sod_bytes": len(sod), "dg_bytes": {f"DG{k}": len(v) for k, v in dgs.items()},
        "face_image_bytes": len(first.face_image or b""),
        "signature_algorithm": first.signature_algorithm,
        "verifications_per_second": round(1.0 / mean, 1),
        "ms_per_verification": round(1000.0 * mean, 3),
        "ms_p50": round(1000.0 * statistics.median(times), 3),
        "ms_p95": round(1000.0 * ordered[int(0.95 * (len(ordered) - 1))], 3),
    }
    print(f"passive authentication ({args.key}, {first.signature_algorithm}): "
          f"{report['verifications_per_second']:,.0f} verifications/s, "
          f"{report['ms_per_verification']} ms mean (p50 {report['ms_p50']}, "
          f"p95 {report['ms_p95']}) over {n}; SOD {len(sod)} B, DG2 {len(dgs[2])} B")
    if args.json:
        print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
