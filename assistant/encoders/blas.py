"""BLAS threads: one for small matrices, where a second thread only waits (used by the encoders and the search)."""

from __future__ import annotations

import contextlib
import functools


@functools.cache
def blas_libraries() -> list:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas").lib_controllers


@contextlib.contextmanager
def one_blas_thread():
    """BLAS limited to one thread meanwhile (for small matrices, where more threads only wait).

    Only libraries not already at one thread are touched: a query inside a limited section pays two
    cheap calls per library, not threadpoolctl's ``limit`` (~0.7 ms, a third of encoding a question).
    """
    changed = [(lib, n) for lib in blas_libraries() if (n := lib.num_threads) != 1]
    for lib, _ in changed:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in changed:
            lib.set_num_threads(n)
