"""The process pool behind :func:`htmu.analyze`: law selection of many layers on every core.

``select_law`` spends most of its time in Python-level work that holds the GIL (small NumPy calls in the law's
Riccati march), so threads cannot share it out (two threads ran at 0.7x the speed of one); processes can.

Start method. On Linux the workers are forked from the caller: they start in milliseconds with everything
imported, and do not import the caller's ``__main__`` again (a script needs no ``if __name__ == "__main__"``
guard). A forked child inherits the parent's memory but none of its threads; the workers run only NumPy/SciPy
code (the law and the estimators, never PyTorch), whose libraries reinitialise their thread pools in the child,
as PyTorch's own DataLoader workers rely on. Python 3.12+ emits a ``DeprecationWarning`` when a process that
holds threads forks (PyTorch keeps some). Elsewhere (macOS, Windows) the workers are spawned: each imports this
module (not PyTorch), and a script that calls :func:`htmu.analyze` must guard its top level with
``if __name__ == "__main__":``, as for any spawned pool.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from htmu.fit.selection import LawSelection, select_law

__all__ = ["process_pool", "timed_select_law"]


def timed_select_law(
    eigenvalues: np.ndarray, gamma: float, rank: int | None, ci: bool, rng: np.random.Generator
) -> tuple[LawSelection, float]:
    """:func:`htmu.fit.selection.select_law` and its wall time in seconds (run in a worker)."""
    t0 = time.perf_counter()
    sel = select_law(eigenvalues, gamma, rng=rng, ci=ci, rank=rank)
    return sel, time.perf_counter() - t0


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes: forked on Linux, spawned elsewhere (see the module notes)."""
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))
