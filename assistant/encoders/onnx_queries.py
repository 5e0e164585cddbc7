"""Questions through ONNX Runtime: the same transformer, exported once, encodes a short text about twice as fast.

On this 2-core machine torch takes e5-small's 12 layers over a 15-token question in ~25-36 ms (its small
matrix products run at ~30 GFLOP/s); ONNX Runtime's kernels take the same float32 graph in ~12-18 ms, with the
same vectors (cosine ≥ 0.99999, checked against torch's when the session is made). Passages stay with torch
(their sentence vectors are pooled from its token vectors: ``spans``). The export (``torch.onnx.export``, which
needs the ``onnx`` package) is made once, next to the model, and written atomically.

The export traces the plain ("eager") attention, whose pattern ONNX Runtime's transformer optimizer recognises:
each layer's attention, bias + GELU and residual + LayerNorm become one fused kernel each (12 Attention, 12
BiasGelu, 24 SkipLayerNormalization). On this machine a CMRC question took a median 8.9 ms against 11.0 ms for
the graph as torch exports it (1.23×, same process, alternating rounds: ``benchmarks/onnx_fusion.py``), with the
same vectors (least cosine between the two 1.000000).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

FILE = Path("onnx") / "model-fused.onnx"
STALE = ("model.onnx",)  # earlier exports (unfused), ~470 MB each: removed once the fused one is in use
SAME = 0.9999  # least cosine to torch's vector of the check question for the session to be used
_CHECK = "query: 世界互联网大会国际组织是什么时候成立的? When was it founded?"


class OnnxQueries:
    """Mean-pooled, normalised vectors of a few texts from the exported transformer (thread-safe: no lock)."""

    def __init__(self, session, tokenizer, max_length: int):
        self.session, self.tokenizer, self.max_length = session, tokenizer, max_length

    def encode(self, texts: list[str], prompt: str = "") -> np.ndarray:
        batch = self.tokenizer(
            [prompt + t for t in texts], padding=True, truncation=True, max_length=self.max_length, return_tensors="np"
        )
        ids, mask = batch["input_ids"].astype(np.int64), batch["attention_mask"].astype(np.int64)
        tokens = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        weights = mask[..., None].astype(np.float32)
        vectors = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def query_encoder(model, folder: Path, reference) -> OnnxQueries | None:
    """``model``'s transformer as an ONNX Runtime session (exported into ``folder`` on first use), or None, with
    one log line, when it cannot be made or its vectors differ from ``reference(texts)`` (torch's)."""
    path = Path(folder) / FILE
    try:
        import onnxruntime as ort

        if not path.exists():
            export(model[0], path)
        for name in STALE:
            (path.parent / name).unlink(missing_ok=True)
        options = ort.SessionOptions()
        options.intra_op_num_threads = min(2, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Its two workers wait for work by spinning (ONNX Runtime's default), which is fastest on a machine that is
        # otherwise idle: a question in a median 8.7-9.3 ms against 12.4-13.1 ms without spinning and 13.4-14.3 ms on
        # one thread. Under other jobs' load spinning cost more (30.7 against 16.3 ms): the server's own heavy work
        # (building the stronger index) happens while the fast tier answers, so it does not meet these questions.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        fast = OnnxQueries(session, model[0].tokenizer, model[0].max_seq_length)
        cosine = float(fast.encode([_CHECK])[0] @ reference([_CHECK])[0])
    except Exception as exc:  # a missing package, a full disk, an exporter that cannot trace this model
        logger.warning("Questions are encoded with torch (no ONNX Runtime session: %s: %s).", type(exc).__name__, exc)
        return None
    if cosine < SAME:
        logger.warning("Questions are encoded with torch: the ONNX export's vectors differ (cosine %.5f).", cosine)
        return None
    return fast


def export(transformer, path: Path, fused: bool = True) -> None:
    """``transformer``'s model (token ids and mask in, last hidden state out) as ONNX at ``path``, atomically;
    ``fused=False``: as torch traces it by default (for the benchmark's comparison)."""
    import torch

    class Tokens(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = transformer.tokenizer(["query: warm up"], return_tensors="pt")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, work = tempfile.mkstemp(prefix=".model-", suffix=".onnx", dir=path.parent)
    os.close(fd)
    axes = {0: "batch", 1: "tokens"}
    model = transformer.auto_model
    attention = model.config._attn_implementation
    try:
        if fused:
            model.set_attn_implementation("eager")  # traced as plain matrix products, which the optimizer fuses
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), torch.inference_mode(False):
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Tokens(transformer.auto_model).eval(),  # eval: the exporter puts modules back in their mode
                (sample["input_ids"], sample["attention_mask"]),
                work,
                input_names=["input_ids", "attention_mask"],
                output_names=["tokens"],
                dynamic_axes={"input_ids": axes, "attention_mask": axes, "tokens": axes},
                opset_version=17,
                dynamo=False,
            )
        if fused:
            fuse(work, model.config)
        os.replace(work, path)
    finally:
        model.set_attn_implementation(attention)
        model.eval()  # never left in training mode (dropout on) for the passages after it
        Path(work).unlink(missing_ok=True)
    logger.info("Exported the question encoder to %s (once)", path)


def fuse(path: str, config) -> None:
    """The exported graph at ``path`` rewritten in place with ONNX Runtime's fused transformer kernels (its
    hardware-independent level: the file runs on any CPU); left as exported, with one log line, if it cannot be."""
    try:
        from onnxruntime.transformers import optimizer

        # its modules log each fusion at INFO under their bare module names (``fusion_base`` …): not the server's log
        for module in Path(optimizer.__file__).parent.glob("*.py"):
            logging.getLogger(module.stem).setLevel(logging.WARNING)
        with contextlib.redirect_stdout(io.StringIO()):
            fused = optimizer.optimize_model(
                path,
                model_type="bert",
                num_heads=config.num_attention_heads,
                hidden_size=config.hidden_size,
                opt_level=1,
            )
            fused.save_model_to_file(path)
    except Exception as exc:  # an optimizer that does not know this graph: the unfused one is as exact, slower
        logger.warning("The question encoder is not fused (%s: %s); it runs unfused.", type(exc).__name__, exc)
