"""Face gallery (1:N search) speed and memory on synthetic 128-D unit vectors.

For each gallery size and kind (flat = exact, hnsw = approximate) it measures build time,
memory (serialised index bytes and process RSS growth), single-query top-k latency p50/p99,
per-query latency inside a batch, restricted search latency (a 1,000-id "polling station"
subset), and accuracy against ground truth: the rank-1 hit rate of mated probes (a gallery
vector plus noise, cosine ~0.8 to its mate) and, for hnsw, recall@k against the exact result.

Random vectors are the hardest case for HNSW (no cluster structure), so its recall here is a
lower bound for real face embeddings.

    python benchmarks/face_search.py                       # 10k, 100k, 1M; flat and hnsw
    python benchmarks/face_search.py --sizes 10k,100k --json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hawiya.search import FaissGallery  # noqa: E402


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: peak RSS is the best we have
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def trim_heap() -> None:
    """Give freed heap pages back to the OS so the next RSS delta measures only new memory."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def unit_rows(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def make_gallery(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    x = np.empty((n, dim), dtype=np.float32)
    for s in range(0, n, 262_144):
        e = min(n, s + 262_144)
        x[s:e] = unit_rows(rng.standard_normal((e - s, dim), dtype=np.float32))
    return x


def mated_probes(x: np.ndarray, idx: np.ndarray, rng: np.random.Generator,
                 cosine: float = 0.8) -> np.ndarray:
    """Each probe is x[idx] plus isotropic noise, so its expected cosine to x[idx] is ~cosine."""
    dim = x.shape[1]
    sigma = np.sqrt((1 / cosine**2 - 1) / dim)
    return unit_rows(x[idx] + sigma * rng.standard_normal((idx.size, dim), dtype=np.float32))


def run_one(kind: str, x: np.ndarray, probes: np.ndarray, truth: np.ndarray, args,
            rng: np.random.Generator, exact: list[list[int]] | None) -> tuple[dict, list]:
    n = x.shape[0]
    ids = np.arange(n, dtype=np.int64)
    faiss.omp_set_num_threads(args.build_threads)
    trim_heap()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    opts = {}
    if kind == "hnsw":
        opts = {"hnsw_m": args.hnsw_m, "ef_construction": args.ef_construction,
                "ef_search": args.ef_search}
    g = FaissGallery.from_pairs(x.shape[1], ids, x, kind=kind, **opts)
    build = time.perf_counter() - t0
    trim_heap()
    rss_delta = rss_bytes() - rss0
    index_bytes = g.index_bytes()
    faiss.omp_set_num_threads(args.query_threads)

    k = args.k
    for q in probes[:5]:  # warm-up
        g.search(q, k)
    lat = np.empty(args.queries)
    results = []
    for i, q in enumerate(probes[: args.queries]):
        t = time.perf_counter()
        hits = g.search(q, k)
        lat[i] = time.perf_counter() - t
        results.append([h[0] for h in hits])

    batch = probes[: args.batch]
    times = []
    for _ in range(args.batch_repeats):
        t = time.perf_counter()
        g.search_batch(batch, k)
        times.append(time.perf_counter() - t)
    per_query_batch = min(times) / batch.shape[0]

    roll = rng.choice(n, size=min(1000, n), replace=False)
    rlat = np.empty(min(50, args.queries))
    for i in range(rlat.size):
        t = time.perf_counter()
        g.search(probes[i], k, restrict_to=roll)
        rlat[i] = time.perf_counter() - t

    pairs = zip(results, truth[: len(results)], strict=True)
    hit_rate = float(np.mean([bool(r) and r[0] == t for r, t in pairs]))
    row = {
        "size": n, "kind": kind, "build_s": round(build, 3), "index_bytes": int(index_bytes),
        "rss_delta_bytes": int(rss_delta),
        "single_p50_ms": round(float(np.percentile(lat, 50)) * 1e3, 4),
        "single_p99_ms": round(float(np.percentile(lat, 99)) * 1e3, 4),
        "batch_per_query_ms": round(per_query_batch * 1e3, 4),
        "batch_size": int(batch.shape[0]),
        "restricted_1k_p50_ms": round(float(np.median(rlat)) * 1e3, 4),
        "mate_rank1": round(hit_rate, 4),
    }
    if kind == "hnsw":
        row.update({"hnsw_m": args.hnsw_m, "ef_construction": args.ef_construction,
                    "ef_search": args.ef_search})
    if exact is not None:
        inter = [len(set(a) & set(b)) / max(len(b), 1) for a, b in zip(results, exact, strict=True)]
        row["recall_at_k"] = round(float(np.mean(inter)), 4)
    del g
    gc.collect()
    return row, results


def mib(b: int) -> str:
    return f"{b / 2**20:,.1f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10k,100k,1M", help="comma-separated, e.g. 10k,100k,1M")
    ap.add_argument("--kinds", default="flat,hnsw")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--queries", type=int, default=200, help="single queries timed per run")
    ap.add_argument("--batch", type=int, default=100, help="queries per batch search")
    ap.add_argument("--batch-repeats", type=int, default=3)
    ap.add_argument("--hnsw-m", type=int, default=32)
    ap.add_argument("--ef-construction", type=int, default=40)
    ap.add_argument("--ef-search", type=int, default=64)
    ap.add_argument("--build-threads", type=int, default=0,
                    help="faiss OpenMP threads while building (0: all cores)")
    ap.add_argument("--query-threads", type=int, default=1,
                    help="faiss OpenMP threads while searching (default 1: a server scales by "
                         "serving one request per core; 0: all cores)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object last")
    args = ap.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=140)
    all_threads = faiss.omp_get_max_threads()
    args.build_threads = args.build_threads or all_threads
    args.query_threads = args.query_threads or all_threads
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    nq = max(args.queries, args.batch)
    rows = []
    for n in sizes:
        rng = np.random.default_rng(args.seed)
        with console.status(f"generating {n:,} vectors"):
            x = make_gallery(n, args.dim, rng)
            truth = rng.choice(n, size=nq, replace=n < nq)
            probes = mated_probes(x, truth, rng)
        exact = None
        for kind in kinds:
            with console.status(f"{kind} gallery of {n:,}"):
                row, res = run_one(kind, x, probes, truth, args, rng,
                                   exact if kind != "flat" else None)
            if kind == "flat":
                exact = res
            rows.append(row)
            console.log(f"{kind} {n:,}: build {row['build_s']} s, "
                        f"p50 {row['single_p50_ms']} ms")
        del x, probes
        gc.collect()

    table = Table(title=f"Face gallery, {args.dim}-D unit vectors, top-{args.k}, "
                        f"{args.build_threads} build / {args.query_threads} query threads")
    for col in ("size", "kind", "build s", "index MiB", "RSS +MiB", "p50 ms", "p99 ms",
                f"batch{args.batch} ms/q", "roll1k p50 ms", "mate rank-1",
                f"recall@{args.k}"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(f"{r['size']:,}", r["kind"], f"{r['build_s']:.2f}", mib(r["index_bytes"]),
                      mib(r["rss_delta_bytes"]), f"{r['single_p50_ms']:.3f}",
                      f"{r['single_p99_ms']:.3f}", f"{r['batch_per_query_ms']:.3f}",
                      f"{r['restricted_1k_p50_ms']:.3f}", f"{r['mate_rank1']:.3f}",
                      f"{r['recall_at_k']:.3f}" if "recall_at_k" in r else "exact")
    console.print(table)
    if args.json:
        print(json.dumps({
            "benchmark": "face_search", "dim": args.dim, "k": args.k,
            "build_threads": args.build_threads, "query_threads": args.query_threads,
            "cpus": os.cpu_count(), "load_avg": os.getloadavg() if hasattr(os, "getloadavg")
            else None,
            "faiss": faiss.__version__, "python": platform.python_version(),
            "machine": platform.machine(), "results": rows,
        }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
