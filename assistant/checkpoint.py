"""Resumable encoding: vectors are saved in chunks to a work folder as they are made, so a build that
was interrupted (killed, out of power) re-uses what it had already encoded."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .encoder import Encoder

logger = logging.getLogger(__name__)

CHUNK_TEXTS = 512


@dataclass(frozen=True)
class _Piece:
    """Up to ``CHUNK_TEXTS`` consecutive texts of one file; ``key`` names its checkpoint file."""

    source: str
    key: str
    texts: list[str]


def encode_resumable(
    jobs: dict[str, list[str]], encoder: Encoder, work: Path, *, progress: bool = False, chunk: int = CHUNK_TEXTS
) -> tuple[dict[str, np.ndarray], int]:
    """Vectors for each source's texts, re-using chunks a previous (interrupted) build saved in ``work``.

    A chunk is keyed by the hash of the model and of its texts, which depend only on the file's
    content: a changed file gets new keys, an unchanged one finds its chunks again.

    Returns:
        The vectors per source (one row per text) and how many texts came from saved chunks.
    """
    work.mkdir(parents=True, exist_ok=True)
    dimension = encoder.dimension
    pieces = [
        _Piece(source, _key(encoder.name, dimension, texts[i : i + chunk]), texts[i : i + chunk])
        for source, texts in jobs.items()
        for i in range(0, len(texts), chunk)
    ]
    done = {p.key: v for p in pieces if (v := _load(work / f"{p.key}.npy", len(p.texts), dimension)) is not None}
    reused = sum(len(p.texts) for p in pieces if p.key in done)
    if reused:
        logger.info("Resuming: %d texts were already encoded by an interrupted build", reused)
    todo = [p for p in pieces if p.key not in done]
    with tqdm(
        total=sum(len(p.texts) for p in todo), desc="Encoding", unit="text", disable=not progress or not todo
    ) as bar:
        for group in _groups(todo, chunk):
            vectors = encoder.encode([t for p in group for t in p.texts])
            row = 0
            for p in group:
                done[p.key] = vectors[row : row + len(p.texts)]
                row += len(p.texts)
                _save(work / f"{p.key}.npy", done[p.key])
            bar.update(row)
    out: dict[str, list[np.ndarray]] = {source: [] for source in jobs}
    for p in pieces:
        out[p.source].append(done[p.key])
    empty = np.zeros((0, dimension), np.float32)
    return {s: np.concatenate(v).astype(np.float32) if v else empty for s, v in out.items()}, reused


def clear(work: Path) -> None:
    """Remove the saved chunks (after the index they fed is safely saved)."""
    shutil.rmtree(work, ignore_errors=True)


def _groups(pieces: list[_Piece], chunk: int) -> list[list[_Piece]]:
    """Pieces batched into encoder calls of about ``chunk`` texts (many small files share one call)."""
    groups: list[list[_Piece]] = []
    size = chunk
    for piece in pieces:
        if size >= chunk:
            groups.append([])
            size = 0
        groups[-1].append(piece)
        size += len(piece.texts)
    return groups


def _key(model: str, dimension: int, texts: list[str]) -> str:
    digest = hashlib.sha256(f"{model}\n{dimension}\n{len(texts)}".encode())
    for text in texts:
        digest.update(b"\x00" + text.encode("utf-8", "surrogatepass"))
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
