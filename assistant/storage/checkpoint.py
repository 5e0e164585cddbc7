"""Resumable encoding: vectors are saved in chunks to a work folder as they are made, so a build that
was interrupted (killed, out of power) re-uses what it had already encoded."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..encoders import Encoder
from .write_errors import writing

logger = logging.getLogger(__name__)

# Texts per saved chunk. A chunk is one ``Encoder.encode`` call, which sorts its texts by length and
# takes the model one batch at a time, first come first served: a question asked meanwhile waits for
# one batch (a fraction of a second), not for the whole chunk.
CHUNK_TEXTS = 512


Spans = tuple[tuple[int, int], ...]
Item = str | tuple[str, Spans]  # a text, or a text and character spans of it that get vectors too


@dataclass(frozen=True)
class _Piece:
    """Up to ``CHUNK_TEXTS`` consecutive texts of one file, each with the spans of it to encode."""

    source: str
    texts: list[str]
    spans: list[Spans]
    digest: str

    @property
    def rows(self) -> int:
        return len(self.texts) + sum(map(len, self.spans))


def encode_resumable(
    jobs: dict[str, list[Item]],
    encoder: Encoder,
    work: Path,
    *,
    progress: bool = False,
    chunk: int | None = None,
    reserve: int = 0,
) -> tuple[dict[str, np.ndarray], int]:
    """Vectors for each source's texts, re-using chunks a previous (interrupted) build saved in ``work``.

    Texts are encoded in chunks of about ``chunk`` texts (a large file is split, small files are
    grouped); each chunk is saved under the hash of the model and its texts, which depend only on
    the files' content, so a restarted build finds the chunks it had already made. A text given
    with spans gets its own row followed by one row per span (``Encoder.encode_spans``).

    When the disk cannot hold the chunks and the same vectors again in the saved index, this fails before
    encoding anything. A failed write raises ``WriteFailed`` with the bytes the whole build needs: the chunks,
    their vectors in the index, FAISS's copy of the texts' vectors, and ``reserve`` (the rest of the index).

    Returns:
        The vectors per source (one row per text or span) and how many rows came from saved chunks.
    """
    chunk = chunk or CHUNK_TEXTS
    dimension = encoder.dimension
    items = {s: [(i, ()) if isinstance(i, str) else (i[0], tuple(i[1])) for i in v] for s, v in jobs.items()}
    pieces = [
        _Piece(source, [t for t, _ in part], [s for _, s in part], _digest(part))
        for source, entries in items.items()
        for i in range(0, len(entries), chunk)
        if (part := entries[i : i + chunk])
    ]
    groups = _groups(pieces, chunk)
    keys = [_key(encoder.name, dimension, group) for group in groups]
    sizes = [sum(p.rows for p in group) for group in groups]
    done = {i: v for i, key in enumerate(keys) if (v := _load(work / f"{key}.npy", sizes[i], dimension)) is not None}
    reused = sum(sizes[i] for i in done)
    if reused:
        logger.info("Resuming: %d vectors were already made by an interrupted build", reused)
    row_bytes = 4 * dimension
    texts = sum(len(p.texts) for p in pieces)
    # in the index: each text's float32 vector, each span's 8-bit codes and scale (``sentences``)
    saved = texts * row_bytes + (sum(sizes) - texts) * (dimension + 4)
    needed = sum(sizes) * row_bytes + saved + texts * row_bytes + reserve
    with writing(needed):
        work.mkdir(parents=True, exist_ok=True)
        if reused < sum(sizes) and shutil.disk_usage(work).free < (sum(sizes) - reused) * row_bytes + saved:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(work))  # now, not after encoding
    with tqdm(
        total=sum(sizes) - reused,
        desc=_describe(
            sum(len(p.texts) for i, g in enumerate(groups) if i not in done for p in g), sum(sizes) - reused
        ),
        unit=" texts",
        disable=not progress or reused == sum(sizes),
    ) as bar:
        for i, group in enumerate(groups):
            if i not in done:
                done[i] = _encode(encoder, group)
                with writing(needed):
                    _save(work / f"{keys[i]}.npy", done[i])
                bar.update(sizes[i])
    out: dict[str, list[np.ndarray]] = {source: [] for source in jobs}
    for i, group in enumerate(groups):
        row = 0
        for p in group:
            out[p.source].append(done[i][row : row + p.rows])
            row += p.rows
    empty = np.zeros((0, dimension), np.float32)
    return {s: np.concatenate(v).astype(np.float32) if v else empty for s, v in out.items()}, reused


def _describe(passages: int, texts: int) -> str:
    """What the progress bar counts: passages, or passages and their sentences (each its own text)."""
    if texts == passages:
        return f"Encoding {passages} passages"
    return f"Encoding {passages} passages ({texts} texts with their sentences)"


def clear(work: Path) -> None:
    """Remove the saved chunks (after the index they fed is safely saved)."""
    shutil.rmtree(work, ignore_errors=True)


def _groups(pieces: list[_Piece], chunk: int, *, spread: int = 256) -> list[list[_Piece]]:
    """Pieces grouped into chunks of at most ``chunk`` texts.

    Besides the size limit, a group also ends after a piece whose hash is 0 modulo ``spread``: such
    content-defined boundaries keep the other groups, and their saved chunks, unchanged when one
    file changes (about ``spread`` small files share a chunk).
    """
    groups: list[list[_Piece]] = [[]]
    size = 0
    for piece in pieces:
        if groups[-1] and size + len(piece.texts) > chunk:
            groups.append([])
            size = 0
        groups[-1].append(piece)
        size += len(piece.texts)
        if int(piece.digest[:8], 16) % spread == 0:
            groups.append([])
            size = 0
    return [g for g in groups if g]


def _encode(encoder: Encoder, group: list[_Piece]) -> np.ndarray:
    texts = [t for p in group for t in p.texts]
    spans = [s for p in group for s in p.spans]
    if not any(spans):
        return encoder.encode(texts)
    return np.concatenate(encoder.encode_spans(texts, spans)).astype(np.float32)


def _digest(items: list[tuple[str, Spans]]) -> str:
    digest = hashlib.sha256(str(len(items)).encode())
    for text, spans in items:
        digest.update(b"\x00" + text.encode("utf-8", "surrogatepass"))
        if spans:
            digest.update(repr(spans).encode())
    return digest.hexdigest()


def _key(model: str, dimension: int, group: list[_Piece]) -> str:
    digest = hashlib.sha256(f"{model}\n{dimension}".encode())
    for piece in group:
        digest.update(piece.digest.encode())
    return digest.hexdigest()[:40]


def _save(path: Path, vectors: np.ndarray) -> None:
    """Write, fsync and rename: a chunk file is complete or absent."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as out:
        np.save(out, vectors, allow_pickle=False)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def _load(path: Path, rows: int, dimension: int) -> np.ndarray | None:
    """A saved chunk if it is whole and plausible (the right shape, finite, unit or zero rows), else None."""
    try:
        vectors = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError) as exc:
        logger.warning("Ignoring a damaged checkpoint %s (%s)", path.name, exc)
        return None
    norms = np.linalg.norm(vectors, axis=1) if vectors.ndim == 2 else None
    if (
        vectors.shape != (rows, dimension)
        or vectors.dtype != np.float32
        or not np.isfinite(vectors).all()
        or not (np.isclose(norms, 1.0, atol=1e-3) | (norms == 0)).all()
    ):
        logger.warning("Ignoring a damaged checkpoint %s", path.name)
        return None
    return vectors
