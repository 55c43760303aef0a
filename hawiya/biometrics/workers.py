"""A process pool for batch extraction, shared by the modality engines.

Extraction is CPU-bound Python/C code that holds the GIL, so batches go to worker processes
(one per core by default) that load their engine's models once and are kept for later
batches. Workers start with forkserver (spawn where unavailable) so a threaded parent is
never forked; as with any multiprocessing use, a calling script needs an
``if __name__ == "__main__"`` guard.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor


def default_workers() -> int:
    """One worker per usable core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class WorkerPool:
    """A lazily started pool whose workers preload ``module`` and run ``initializer``."""

    def __init__(self, module: str, initializer: Callable | None = None,
                 initargs: tuple = ()):
        self.module, self.initializer, self.initargs = module, initializer, initargs
        self._pool: ProcessPoolExecutor | None = None
        self._workers = 0

    @property
    def running(self) -> bool:
        return self._pool is not None

    def get(self, n: int) -> ProcessPoolExecutor:
        if self._pool is None or self._workers != n:
            self.close()
            methods = mp.get_all_start_methods()
            ctx = mp.get_context("forkserver" if "forkserver" in methods else "spawn")
            if ctx.get_start_method() == "forkserver":
                ctx.set_forkserver_preload([self.module])
            self._pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx,
                                             initializer=self.initializer,
                                             initargs=self.initargs)
            self._workers = n
            atexit.register(self.close)
        return self._pool

    def map(self, fn: Callable, items: list, n: int) -> Iterable:
        chunk = max(1, min(4, len(items) // (4 * n)))
        return self.get(n).map(fn, items, chunksize=chunk)

    def run(self, items: list, worker_fn: Callable, local_fn: Callable | None = None,
            workers: int | None = None, min_batch: int = 8) -> list:
        """Results in input order: in the workers for a large batch (or whenever they are
        already running), here for a small one (starting processes would cost more)."""
        n = workers if workers is not None else default_workers()
        if n <= 1 or len(items) < 2 or (not self.running and len(items) < min_batch):
            return [(local_fn or worker_fn)(item) for item in items]
        return list(self.map(worker_fn, items, n))

    def close(self) -> None:
        """Stop the workers (a later batch starts them again)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            self._workers = 0


def extraction_result(modality: str, fn: Callable, *args):
    """``fn(*args)`` with failures returned, not raised: one bad image never ends a batch."""
    from hawiya.errors import HawiyaError, QualityRejected

    try:
        return fn(*args)
    except HawiyaError as exc:
        return exc
    except Exception as exc:  # a bug must not kill the batch; report it per item
        return QualityRejected(f"{modality} extraction failed: {type(exc).__name__}: {exc}",
                               reasons=["extraction_error"])


def single_threaded_opencv() -> None:
    """Worker initializer: one OpenCV thread per worker process (the pool is the parallelism)."""
    import cv2

    cv2.setNumThreads(1)
