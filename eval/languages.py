"""The seed's questions by their language, asked of the seed alone and of the seed beside Wikipedia files in both
languages, per weight of a cross-language question's translation (``settings.TRANSLATION_WEIGHTS``).

Usage:
    python eval/languages.py --model multilingual-e5-small --weights 0 0.5
    python eval/languages.py --model use-multilingual-v3 --weights 0 0.3 --folders zh --halves tune

Folders (written under ``--work``, their indexes kept there for the next run):
- ``alone``: the seed interview (``seeds/``).
- ``zh``: the seed beside 40 Chinese files (CMRC 2018 trial and DRCD contexts) and 8 English ones (the SQuAD
  slice), 15 contexts a file, taken evenly through each set: mostly Chinese, as a Chinese user's folder.
- ``en``: the seed beside 10 Chinese and 50 English such files: mostly English.
Each row: the folder, the seed half, the weight, the questions' language (``en``: no Chinese character; ``zh``;
``all``), hit@1/5, MRR@10, answered and refused, through ``Assistant.ask`` (the chat's ranking and "not found").
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from assistant.evaluate import evaluate  # noqa: E402
from assistant.search import settings  # noqa: E402
from eval.report import DATA, seed_set  # noqa: E402

FOLDERS = {"alone": (0, 0), "zh": (40, 8), "en": (10, 50)}  # Chinese and English files beside the seed
CONTEXTS_PER_FILE = 15
_CJK = re.compile(r"[\u4e00-\u9fff]")


def spread(items: list, files: int, per_file: int = CONTEXTS_PER_FILE) -> list[list]:
    """``files`` runs of ``per_file`` consecutive items, their starts taken evenly through ``items``."""
    step = len(items) // files
    return [items[i * step : i * step + per_file] for i in range(files)]


def write_folder(folder: Path, chinese: int, english: int, data: Path) -> Path:
    """The seed's files and the Wikipedia files beside them, written once (a complete folder is reused)."""
    from squad import read_squad

    done = folder / ".complete"
    if done.exists():
        return folder / "corpus"
    shutil.rmtree(folder, ignore_errors=True)
    corpus = folder / "corpus"
    shutil.copytree(ROOT / "seeds", corpus)
    if chinese or english:
        zh = [*read_squad(ROOT / "eval" / "data" / "cmrc2018_trial.json")[0].values()]
        zh += [*read_squad(data / "drcd_test.json")[0].values()]
        en = [*read_squad(data / "squad_v1.1_dev.dev1000.json")[0].values()]
        for lang, contexts, files in (("zh", zh, chinese), ("en", en, english)):
            for i, chunk in enumerate(spread(contexts, files)):
                text = "\n\n".join(c.strip() for c in chunk) + "\n"
                (corpus / f"wiki-{lang}-{i:03d}.txt").write_text(text, encoding="utf-8")
    done.write_text("ok")
    return corpus


def language_of(question: str) -> str:
    return "zh" if _CJK.search(question) else "en"


def main() -> None:
    from assistant.api import Assistant

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="multilingual-e5-small")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.5])
    parser.add_argument("--folders", nargs="+", choices=list(FOLDERS), default=list(FOLDERS))
    parser.add_argument("--halves", nargs="+", default=["tune", "heldout"], help="tune, heldout, 'team held-out'")
    parser.add_argument("--work", type=Path, default=Path("/tmp/assistant-languages"))
    parser.add_argument(
        "--data", type=Path, default=DATA, help=f"folder of drcd_test.json and the SQuAD slice ({DATA})"
    )
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args()
    halves, rows = seed_set(), []
    for name in args.folders:
        corpus = write_folder(args.work / name, *FOLDERS[name], args.data)
        bot = Assistant(corpus, model=args.model, index_root=args.work / f"index-{name}", progress=False)
        bot.load_models()
        bot.refresh()
        keyword = bot.index.keyword
        print(f"{name}: {len(bot.index.passages)} passages, main language {keyword.language}, both: {keyword.mixed()}")
        for half in args.halves:
            answerable, unanswerable = halves[half]
            for weight in args.weights:
                settings.TRANSLATION_WEIGHTS[bot.encoder.name] = weight
                for lang in ("en", "zh", "all"):
                    qa = [q for q in answerable if lang in ("all", language_of(q.question))]
                    qu = [q for q in unanswerable if lang in ("all", language_of(q.question))]
                    result = evaluate(bot, qa + qu, progress=False)
                    row = {
                        "folder": name,
                        "passages": len(bot.index.passages),
                        "half": half,
                        "weight": weight,
                        "language": lang,
                        "answerable": len(qa),
                        "unanswerable": len(qu),
                        "hit@1": round(result.hit.get(1, 0.0), 3),
                        "hit@5": round(result.hit.get(5, 0.0), 3),
                        "mrr10": round(result.mrr10, 3),
                        "answered": round(result.answerable_found, 3),
                        "refused": round(result.unanswerable_correct, 3) if qu else None,
                        "median_ms": round(result.median_ms, 1),
                    }
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
