"""Failed writes into an index folder: which errors mean a full disk or a read-only folder, in one sentence."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from pathlib import Path

from ..errors import IndexWriteError

INDEX_ENV = "ASSISTANT_INDEX_DIR"


class WriteFailed(Exception):
    """A write into an index folder failed (full disk, read-only, not permitted); ``open_index`` cleans up
    after it and turns it into one ``IndexWriteError`` sentence. ``needed``: about how many bytes the build
    needs beyond what is already saved, 0 when unknown."""

    def __init__(self, cause: BaseException, needed: int):
        super().__init__(str(cause))
        self.cause, self.needed = cause, needed
        self.code = write_errno(cause)


_FULL = (errno.ENOSPC, errno.EDQUOT)
_DENIED = (errno.EROFS, errno.EACCES, errno.EPERM)


def write_errno(exc: BaseException) -> int | None:
    """The ``errno`` of a failed write, or None when ``exc`` is no write error (a bug, then).

    numpy reports a short write as an OSError without errno ("262144 requested and 138208 written"), which
    on a local disk means it is full; FAISS raises a RuntimeError that quotes ``strerror``.
    """
    if isinstance(exc, OSError):
        if exc.errno is not None:
            return exc.errno
        return errno.ENOSPC if re.search(r"requested and \d+ written", str(exc)) else errno.EIO
    if isinstance(exc, RuntimeError):
        return next((code for code in (*_FULL, *_DENIED) if os.strerror(code) in str(exc)), None)
    return None


@contextlib.contextmanager
def writing(needed: int = 0):
    """Turn a failed write in the block into ``WriteFailed`` with ``needed`` (other errors pass as they are)."""
    try:
        yield
    except WriteFailed:
        raise
    except (OSError, RuntimeError) as exc:
        if write_errno(exc) is None:
            raise
        raise WriteFailed(exc, needed) from exc


def unwritable_error(folder: Path, failed: WriteFailed, *, previous: bool, answering: bool = False) -> IndexWriteError:
    """One sentence: why the index in ``folder`` cannot be written and what to do; whether the ``previous``
    index is kept, or is ``answering`` meanwhile. Measures the free space now: call it after the failed
    build's files are removed."""
    code = failed.code or errno.EIO
    reason = os.strerror(code) if code in (*_FULL, *_DENIED) else getattr(failed.cause, "strerror", None)
    reason = reason or str(failed.cause)[:80]
    stale = ", so the index is not updated with the changed documents" if answering else ""
    if code in _FULL:
        needed = f"about {_size(failed.needed)}" if failed.needed else "more space"
        free = _size(_free_bytes(folder))
        problem = (
            f"The disk holding {folder} is full ({reason}){stale}: the new index needs {needed} and {free} are free"
        )
        todo = f"Free some space or choose another folder with {INDEX_ENV}=PATH"
    else:
        problem = f"Cannot write the index to {folder} ({reason}){stale}"
        todo = f"Make it writable or choose another folder with {INDEX_ENV}=PATH"
    then = "; answering from the previous index meanwhile" if answering else "; the previous index is kept"
    return IndexWriteError(f"{problem}. {todo}{then if previous else ''}.")


def _free_bytes(folder: Path) -> int:
    for path in (folder, *folder.parents):  # the folder itself may not exist (yet)
        with contextlib.suppress(OSError):
            return shutil.disk_usage(path).free
    return 0


def _size(n: int) -> str:
    """``36 MB``, ``1.2 MB``, ``820 kB``: decimal units, two significant digits below 10."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            value = n / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{n} bytes"


def folder_bytes(path: Path) -> int:
    """The size of the files under ``path`` (0 when it is gone)."""
    total = 0
    with contextlib.suppress(OSError):
        for child in path.rglob("*"):
            with contextlib.suppress(OSError):
                if child.is_file():
                    total += child.stat().st_size
    return total
