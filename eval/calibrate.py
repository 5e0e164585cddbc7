"""Fit the calibrated "not found" model (``assistant/search/calibration.json``) on the tuning halves, and report it.

Usage:
    python eval/calibrate.py collect --out build/calib/use.jsonl [--model multilingual-e5-small]
    python eval/calibrate.py fit build/calib/use.jsonl [--name use-multilingual-v3] [--fallback]
    python eval/calibrate.py fit build/calib/e5-floor.jsonl --name multilingual-e5-small --threshold-at 0.2
    python eval/calibrate.py report build/calib/use.jsonl [--markdown]

``collect`` builds one index per development corpus (the seed interview, CMRC trial, DRCD and SQuAD, the last
two cut to their first articles) and asks it, through the ``retrieve`` call ``Assistant.ask`` makes, its own
questions (answerable; and once more with the gold passage taken out of the ranking: unanswerable), questions
of another set (DRCD of CMRC and back, SQuAD and the Wikipedia sets of the seed interview, the seed of SQuAD)
and ``eval/unanswerable.jsonl``, each split into halves by ``eval/splits.py`` (run it first, ``--out
build/splits``). One line per question: its set, half, kind, whether it is answerable, the gold's rank and
the features (``assistant.search.calibration.FEATURES``) of its ``POOL`` best hits. ``--sets mixed mixed-zh``
collects, instead, two folders of the seed beside Chinese and English Wikipedia files (``MIXED``: mostly English,
mostly Chinese), asked the seed's questions and those of a set with no passage there; they are not in the
default sets, so the fit in ``calibration.json`` is reproduced without them
(``benchmarks/results/calibration_e5_mixed.md``).

``fit`` fits a logistic regression on the ``tune`` lines only (every group weighted alike, so 1,700 DRCD
questions do not drown 12 seed ones) and stores its coefficients under the encoder's name; ``--fallback``
also stores, as ``default``, one without the raw cosine and fused score (for encoders never fitted).
``report`` prints, per corpus × kind × half, hit@1 and the answered / refused shares under the old rule
(fused score ≥ 0.2) and the calibrated one (probability ≥ ``DEFAULT_THRESHOLD``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.evaluate import EvalQuestion, load_dataset, load_questions_jsonl, write_corpus  # noqa: E402
from assistant.search import DEFAULT_THRESHOLD  # noqa: E402
from assistant.search.calibration import CALIBRATION, FALLBACK, FEATURES, POOL, features  # noqa: E402
from assistant.search.conversation import make_query  # noqa: E402
from assistant.search.retriever import retrieve  # noqa: E402
from eval.languages import spread  # noqa: E402
from eval.splits import HALVES  # noqa: E402

SPLITS = ROOT / "build" / "splits"
# 34 more seed questions, asked the way users ask (paraphrases, English, follow-ups, 8 unanswerable), all tuning:
# the dev sets held only 11 answerable seed questions in their tuning half.
SEED_TUNE = ROOT / "eval" / "seed_tune.jsonl"
OLD_THRESHOLD = 0.2
SETS = {  # corpus: (SQuAD split stem or None for the seed folder, articles kept)
    "seed": (None, None),
    "cmrc": ("cmrc2018_trial", None),
    "drcd": ("drcd_test", 120),
    "squad": ("squad_v1.1_dev.dev1000", 12),
}
# The mixed folders: the seed interview beside files of 15 Wikipedia passages each, from the tuning halves only
# (so ``eval/languages.py``'s folders, drawn from whole sets, are other files): a user's folder in two languages,
# where a question in the minority language is fused as cross-language against every passage.
# Not in ``SETS``: the fit in calibration.json was collected without them (``--sets`` names them).
MIXED = {  # folder: {split stem: files}
    "mixed": {"cmrc2018_trial": 10, "squad_v1.1_dev.dev1000": 50},  # mostly English
    "mixed-zh": {"drcd_test": 40, "squad_v1.1_dev.dev1000": 8},  # mostly Chinese
}
# Questions of other sets asked of each corpus (unanswerable there), at most this many per half.
FOREIGN_SETS = {
    "seed": {"squad": 150, "cmrc": 100, "drcd": 100},
    "cmrc": {"drcd": 300, "squad": 60},
    "drcd": {"cmrc": 300, "squad": 60},
    "squad": {"seed": None, "cmrc": 100},
    "mixed": {"drcd": 100},  # DRCD has no passage in the folder
    "mixed-zh": {"cmrc": 100, "squad": 60},  # CMRC has none; SQuAD's questions of passages not in it
}
# The seed interview is the product's case (one folder on one subject, English and follow-up questions, which
# no Wikipedia set has): weighted 3x, its 11 tuning questions are all answered at the default threshold and
# no off-topic one (without it, English seed questions were refused at 0.4; measured on the tuning halves).
SEED_WEIGHT = 3.0
DROP_FEATURES = ("score", "dense")  # left out of the fallback: their level depends on the encoder


def set_questions(name: str, half: str) -> list[EvalQuestion]:
    """A set's own questions of one half (the seed's dev and extra ones together; the mixed folder's are the
    seed's)."""
    if name in ("seed", *MIXED):
        mine = [
            q
            for stem in ("seed_dev_questions", "seed_extra", "seed_more")
            for q in load_questions_jsonl(SPLITS / f"{stem}-{half}.jsonl")
        ]
        return mine + (load_questions_jsonl(SEED_TUNE) if half == "tune" else [])
    return load_dataset(SPLITS / f"{SETS[name][0]}-{half}.questions.jsonl")[1]


def corpus(name: str, tmp: Path):
    """The corpus folder, the map of file → gold passage id (None for the seed folders) and the ids of the
    Wikipedia passages it holds (None for the seed alone)."""
    if name == "seed":
        return ROOT / "seeds", None, None
    if name in MIXED:
        folder = tmp / name
        return folder, None, mixed_folder(folder, MIXED[name])
    stem, articles = SETS[name]
    passages = load_dataset(SPLITS / f"{stem}-tune.questions.jsonl")[0]
    if articles:
        keep = set(list(dict.fromkeys(p.id.rsplit("-", 1)[0] for p in passages))[:articles])
        passages = [p for p in passages if p.id.rsplit("-", 1)[0] in keep]
    folder = tmp / name
    return folder, write_corpus(passages, folder), {p.id for p in passages}


def mixed_folder(folder: Path, files_of: dict[str, int]) -> set[str]:
    """Write the seed's files and Wikipedia files beside them (``files_of``: split stem → files), each file's
    passages taken evenly through its set's tuning half (``languages.spread``); the ids of those passages."""
    shutil.copytree(ROOT / "seeds", folder)
    written = set()
    for stem, files in files_of.items():
        passages = load_dataset(SPLITS / f"{stem}-tune.questions.jsonl")[0]
        for i, chunk in enumerate(spread(passages, files)):
            written.update(p.id for p in chunk)
            text = "\n\n".join(p.text.strip() for p in chunk) + "\n"
            (folder / f"{stem}-{i:03d}.txt").write_text(text, encoding="utf-8")
    return written


def is_gold(hit, q: EvalQuestion, gold) -> bool:
    if gold is not None and q.passage_id:
        return gold.get(hit.passage.source) == q.passage_id
    return any(a and a in hit.passage.text for a in q.answers)


def rank_of(hits, q, gold) -> int | None:
    if gold is not None and q.passage_id:
        docs = list(dict.fromkeys(gold.get(h.passage.source, h.passage.source) for h in hits))
        return docs.index(q.passage_id) + 1 if q.passage_id in docs[:10] else None
    return next((i for i, h in enumerate(hits[:10], 1) if is_gold(h, q, None)), None)


def rows_for(bot, name: str, questions, kind: str, half: str, gold, *, answerable: bool, own: bool):
    index = bot.index
    for q in questions:
        query = make_query(q.question, q.history)
        found = retrieve(index, bot.encoder, [query], k=POOL + 10)[0]
        words = found.words[-1] if found.words else ()
        foreign = index.keyword.is_foreign(query.parts[0])
        kinds = [(kind, list(found.hits), answerable)]
        if own and answerable:  # the same question with its gold passage gone from the corpus
            kinds.append(("gold removed", [h for h in found.hits if not is_gold(h, q, gold)], False))
        for label, hits, ans in kinds:
            pool = hits[:POOL]
            feats = features(
                pool,
                words,
                idf=index.keyword.idf,
                groups=index.keyword.groups,
                foreign=foreign,
                follow_up=len(query.parts) > 1,
                unknown=index.keyword.unknown_idf(),
            )
            yield {
                "corpus": name,
                "kind": label,
                "half": half,
                "answerable": ans,
                "rank": rank_of(hits, q, gold) if ans else None,
                "features": np.round(feats, 5).tolist(),
            }


def collect(args) -> None:
    from assistant.api import Assistant

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="assistant-calib-") as tmp, args.out.open("w") as out:
        for name in args.sets or SETS:
            folder, gold, kept = corpus(name, Path(tmp))
            bot = Assistant(folder, model=args.model, index_root=Path(tmp) / f"index-{name}", progress=False)
            bot.refresh()
            print(name, len(bot.index.passages), "passages", flush=True)
            for half in HALVES:
                # a seed question has no passage id: asked of any folder holding the seed
                mine = [
                    q for q in set_questions(name, half) if kept is None or not q.passage_id or q.passage_id in kept
                ]
                if args.limit:
                    mine = mine[: args.limit]
                groups = [(name, [q for q in mine if q.answers], True, True)]
                groups.append((f"{name} unanswerable", [q for q in mine if not q.answers], False, True))
                groups.append(
                    ("unanswerable.jsonl", load_questions_jsonl(SPLITS / f"unanswerable-{half}.jsonl"), False, False)
                )
                for other, limit in FOREIGN_SETS[name].items():
                    theirs = [q for q in set_questions(other, half) if kept is None or q.passage_id not in kept][:limit]
                    groups.append((f"{other} questions", theirs, False, False))
                for kind, questions, answerable, own in groups:
                    for row in rows_for(bot, name, questions, kind, half, gold, answerable=answerable, own=own):
                        out.write(json.dumps(row) + "\n")
                    print(name, half, kind, len(questions), flush=True)


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def fit(args) -> None:
    rows = [r for r in load(args.data) if r["half"] == "tune" and r["features"]]
    x = np.array([r["features"][0] for r in rows])
    y = np.array([float(r["answerable"]) for r in rows])
    w = weights(rows)
    saved = json.loads(CALIBRATION.read_text()) if CALIBRATION.exists() else {"models": {}}
    saved["features"] = list(FEATURES)
    saved["models"][args.name] = logistic(x, y, w, FEATURES, note=f"{args.data.name}: {len(rows)} tuning questions")
    if args.threshold_at:  # this fit's probability ``threshold_at`` becomes the shared default threshold
        shift = float(
            np.log(DEFAULT_THRESHOLD / (1 - DEFAULT_THRESHOLD)) - np.log(args.threshold_at / (1 - args.threshold_at))
        )
        model = saved["models"][args.name]
        model["intercept"] = round(model["intercept"] + shift, 5)
        model["note"] += (
            f"; intercept raised by {shift:.3f} so that its {args.threshold_at} is the default {DEFAULT_THRESHOLD}"
        )
    if args.fallback:
        keep = [i for i, f in enumerate(FEATURES) if f not in DROP_FEATURES]
        names = [FEATURES[i] for i in keep]
        saved["models"][FALLBACK] = logistic(x[:, keep], y, w, names, note=f"fallback, without {DROP_FEATURES}")
    CALIBRATION.write_text(json.dumps(saved, indent=2) + "\n")
    print(json.dumps(saved["models"][args.name], indent=2))


def weights(rows) -> np.ndarray:
    """Each corpus counts alike (the seed interview ``SEED_WEIGHT`` times), half for its answerable questions and
    half for its unanswerable ones, shared alike by their kinds (gold removed, another set's questions, ...)."""
    counts, kinds = defaultdict(int), defaultdict(set)
    for r in rows:
        counts[(r["corpus"], r["kind"])] += 1
        kinds[(r["corpus"], r["answerable"])].add(r["kind"])
    w = np.array(
        [
            (SEED_WEIGHT if r["corpus"] == "seed" else 1.0)
            / counts[(r["corpus"], r["kind"])]
            / len(kinds[(r["corpus"], r["answerable"])])
            for r in rows
        ]
    )
    return w * len(w) / w.sum()


def logistic(x, y, w, names, *, note: str, l2: float = 1.0) -> dict:
    """Weighted, L2-regularised logistic regression (scikit-learn, offline only), coefficients in raw feature units."""
    from sklearn.linear_model import LogisticRegression

    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    model = LogisticRegression(C=l2, max_iter=2000).fit((x - mean) / std, y, sample_weight=w)
    coef = model.coef_[0] / std
    intercept = float(model.intercept_[0] - (coef * mean).sum())
    return {
        "note": note,
        "intercept": round(intercept, 5),
        "weights": {n: round(float(c), 5) for n, c in zip(names, coef, strict=True)},
    }


def sweep(args) -> None:
    """On the tuning halves only: per threshold, each corpus's answered and refused shares (for the default)."""
    from assistant.search.calibration import model_for, probabilities

    rows = [r for r in load(args.data) if r["half"] == "tune"]
    model = model_for(args.name)
    p = np.array([probabilities(np.array(r["features"][:1]), model)[0] if r["features"] else 0.0 for r in rows])
    for t in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        cells = []
        for name in dict.fromkeys(r["corpus"] for r in rows):
            ans = [pi >= t for pi, r in zip(p, rows, strict=True) if r["corpus"] == name and r["answerable"]]
            una = [pi < t for pi, r in zip(p, rows, strict=True) if r["corpus"] == name and not r["answerable"]]
            cells.append(f"{name} answered {np.mean(ans):.3f} refused {np.mean(una):.3f}")
        print(f"threshold {t}: " + "; ".join(cells))


def report(args) -> None:
    from assistant.search.calibration import model_for, probabilities

    rows = load(args.data)
    model = model_for(args.name)
    table = defaultdict(list)
    for r in rows:
        top = np.array(r["features"][:1]) if r["features"] else None
        old = bool(top is not None and top[0][0] >= OLD_THRESHOLD)
        new = bool(top is not None and probabilities(top, model)[0] >= args.threshold)
        table[(r["corpus"], r["kind"], r["half"])].append((r["answerable"], r["rank"], old, new))
    print(f"model {args.name}, threshold {args.threshold}")
    print(
        "| corpus | questions | half | n | hit@1 | answered before | answered after | refused before | refused after |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    totals = defaultdict(lambda: [0, 0, 0])
    for (corpus_name, kind, half), items in sorted(table.items()):
        n = len(items)
        ans = items[0][0]
        hit1 = f"{sum(r == 1 for _, r, _, _ in items) / n:.3f}" if ans else "–"
        old = sum(o for *_, o, _ in items) / n
        new = sum(x for *_, x in items) / n
        cells = [f"{old:.3f}", f"{new:.3f}", "–", "–"] if ans else ["–", "–", f"{1 - old:.3f}", f"{1 - new:.3f}"]
        print(f"| {corpus_name} | {kind} | {half} | {n} | {hit1} | {' | '.join(cells)} |")
        t = totals[(half, ans)]
        t[0] += n
        t[1] += sum(o for *_, o, _ in items)
        t[2] += sum(x for *_, x in items)
    for (half, ans), (n, old, new) in sorted(totals.items()):
        what = "answered" if ans else "refused"
        o, x = (old / n, new / n) if ans else (1 - old / n, 1 - new / n)
        print(f"all {half} {'answerable' if ans else 'unanswerable'} ({n}): {what} before {o:.3f} after {x:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("collect")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--model")
    p.add_argument("--sets", nargs="*", choices=[*SETS, *MIXED])
    p.add_argument("--limit", type=int, help="at most N of each set's own questions per half")
    p = sub.add_parser("fit")
    p.add_argument("data", type=Path)
    p.add_argument("--name", default="use-multilingual-v3")
    p.add_argument("--fallback", action="store_true")
    p.add_argument(
        "--threshold-at",
        type=float,
        help="shift the intercept so that this probability of the fit lands on the default threshold (the "
        "threshold the same rule picks for this encoder: see sweep)",
    )
    p = sub.add_parser("report")
    p.add_argument("data", type=Path)
    p.add_argument("--name", default="use-multilingual-v3")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    p = sub.add_parser("sweep")
    p.add_argument("data", type=Path)
    p.add_argument("--name", default="use-multilingual-v3")
    args = parser.parse_args()
    {"collect": collect, "fit": fit, "report": report, "sweep": sweep}[args.command](args)


if __name__ == "__main__":
    main()
