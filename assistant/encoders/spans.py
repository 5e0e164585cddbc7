"""Sentence vectors from a transformer's own pass over its passage: the mean of the tokens each sentence covers.

A mean-pooling model (e5-small) reads a passage once; each sentence's vector is the normalised mean of the
contextual token vectors whose characters fall inside it, so an index gets its sentences' vectors for
the price of its passages' (encoding each sentence again costs e5 about five times more). The passage's
own vector is pooled exactly as ``SentenceTransformer.encode`` pools it (all its tokens, prefix included).
"""

from __future__ import annotations

import numpy as np


def can_pool(model) -> bool:
    """Whether ``model`` is a transformer with a fast tokenizer (character offsets) and mean pooling."""
    try:
        transformer, pooling = model[0], model[1]
        mean = pooling.get_config_dict().get("pooling_mode") == "mean" or getattr(
            pooling, "pooling_mode_mean_tokens", False
        )
        return bool(mean) and transformer.tokenizer.is_fast and hasattr(transformer, "auto_model")
    except (AttributeError, IndexError, KeyError, TypeError):
        return False


def transformer_spans(model, texts: list[str], spans: list[list[tuple[int, int]]], *, alone, prompt: str | None = None):
    """For each text: its vector, then one unit vector per ``(start, end)`` character span; a span whose
    tokens were cut off by the model's length limit is encoded as a text of its own by ``alone(texts)``."""
    import torch

    if not texts:
        return []
    transformer = model[0]
    prefix = prompt or ""
    batch = transformer.tokenizer(
        [prefix + t for t in texts],
        padding=True,
        truncation=True,
        max_length=transformer.max_seq_length,
        return_offsets_mapping=True,
        return_tensors="pt",
    )
    offsets = batch.pop("offset_mapping").numpy()
    with torch.inference_mode():
        tokens = transformer.auto_model(**batch).last_hidden_state.float().numpy()
    mask = batch["attention_mask"].numpy().astype(bool)
    out, missing = [], []
    for b, text_spans in enumerate(spans):
        row_tokens = tokens[b][mask[b]]
        starts, ends = offsets[b][mask[b], 0] - len(prefix), offsets[b][mask[b], 1] - len(prefix)
        real = ends > starts  # special tokens have empty offsets
        vectors = [row_tokens.mean(axis=0)]
        for n, (a, e) in enumerate(text_spans):
            inside = real & (starts < e) & (ends > a) & (ends > 0)
            if inside.any():
                vectors.append(row_tokens[inside].mean(axis=0))
            else:
                vectors.append(np.zeros(row_tokens.shape[1], np.float32))
                missing.append((b, n))
        out.append(_unit(np.stack(vectors)))
    if missing:
        again = alone([texts[b][slice(*spans[b][n])] for b, n in missing])
        for (b, n), vector in zip(missing, again, strict=True):
            out[b][1 + n] = vector
    return out


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
