"""Count the repeated work of one follow-up question on the chat's path: the answer, each card's context,
the reply's HTML and the Markdown export (the fake encoder: this counts calls, it does not time them).

    python benchmarks/question_path.py
"""

import collections
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> dict:
    import assistant.keyword.terms as terms
    import assistant.search.answer as answer
    from assistant.api import Assistant
    from assistant.search import render_markdown
    from assistant.web.render import render_reply
    from tests.conftest import FakeEncoder

    counts = collections.Counter()

    def counted(name, real):
        def call(*args, **kwargs):
            counts[name] += 1
            return real(*args, **kwargs)

        return call

    real = terms.tokenize
    tokenize = counted("tokenize", real)
    for module in list(sys.modules.values()):  # wherever the package imported it by name
        if getattr(module, "__name__", "").startswith("assistant") and getattr(module, "tokenize", None) is real:
            module.tokenize = tokenize
    answer.answer_sentences = counted("answer_sentences", answer.answer_sentences)

    class Counting(FakeEncoder):
        def encode(self, texts, *, progress=False):
            counts["encoded texts"] += len(texts)
            return super().encode(texts, progress=progress)

    work = Path(tempfile.mkdtemp())
    (work / "corpus").mkdir()
    (work / "corpus" / "seed.txt").write_bytes((ROOT / "seeds" / "wuzhen_summit_ten_years_interview.txt").read_bytes())
    bot = Assistant(work / "corpus", index_root=work / "index", encoder=Counting())
    bot.refresh()
    counts.clear()
    reply = bot.ask("它现在有多少会员?", ["世界互联网大会国际组织是什么时候成立的?"])
    contexts = [bot.context(hit.passage) for hit in reply.hits]
    render_reply(reply, uid=uuid.uuid4().hex[:8], contexts=contexts)
    render_markdown(reply)
    return dict(counts)


if __name__ == "__main__":
    print(main())
