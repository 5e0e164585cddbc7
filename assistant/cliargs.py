"""The command line's flags: ``python -m assistant index|ask|serve|eval --help``."""

from __future__ import annotations

import argparse
from pathlib import Path

AUTH_ENV = "ASSISTANT_AUTH"
PASSWORD_ENV = "ASSISTANT_PASSWORD"

EPILOG = {
    "index": "example: python -m assistant index my_docs/\n"
    "  several knowledge bases: python -m assistant index --kb hr=docs/hr --kb it=docs/it\n"
    "  in Milvus (Lite): python -m assistant index my_docs/ --milvus milvus/docs.db",
    "ask": 'example: python -m assistant ask "世界互联网大会国际组织是什么时候成立的?" --json\n'
    '  of one of several knowledge bases: python -m assistant ask "How many leave days?" --kb hr=docs/hr '
    "--kb it=docs/it --in hr",
    "serve": "example: python -m assistant serve --corpus my_docs/ --port 7860\n"
    "  several knowledge bases (a selector on the page): python -m assistant serve --kb hr=docs/hr --kb it=docs/it",
    "eval": "examples:\n  python -m assistant eval eval/data/cmrc2018_trial.json --compare\n"
    "  python -m assistant eval eval/data/seed_dev_questions.jsonl --corpus seeds/\n"
    "  python -m assistant eval eval/data/seed_dev_questions.jsonl --kb wic=seeds/",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant",
        description="Ask questions about a folder of documents (Chinese or English) and get cited passages.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (to stderr)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser, corpus_flag: bool = True) -> None:
        # SUPPRESS: without -v after the command, the -v given before it stands (a default would overwrite it)
        p.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log what happens (to stderr)"
        )
        if corpus_flag:
            p.add_argument("--corpus", type=Path, help="folder of .txt/.md/.html documents (default: seeds/)")
        p.add_argument(
            "--model",
            help="embedding model: alias, or a local sentence-transformers folder "
            "(default: $ASSISTANT_MODEL or use-multilingual-v3)",
        )
        p.add_argument(
            "--upgrade",
            metavar="MODEL",
            help="with the default model, the stronger model whose index is built next: serve answers from the "
            "fast index at once and switches when it is ready, index builds both, ask and eval use it "
            "(default: $ASSISTANT_UPGRADE or multilingual-e5-small; none: the fast model only)",
        )
        p.add_argument(
            "--index-dir", type=Path, help="where indexes are kept (default: $ASSISTANT_INDEX_DIR or embeddings/)"
        )
        p.add_argument(
            "--sentence-vectors",
            choices=("auto", "on", "off"),
            default="auto",
            help="vectors for each passage's sentences (default auto: with a model that pools them from the passages' "
            "own pass — the bundled USE, multilingual-e5-small — at any size; on: with any model, which then "
            "encodes every sentence too)",
        )
        p.add_argument(
            "--milvus",
            metavar="URI",
            help="keep the index in Milvus: a local file x.db (Milvus Lite) or http(s)://host:port, optionally "
            "#collection (default: $ASSISTANT_MILVUS_URI; the token only from $ASSISTANT_MILVUS_TOKEN)",
        )
        p.add_argument(
            "--uploads",
            type=Path,
            help="folder of documents added from the web page, indexed with the corpus (the first knowledge "
            "base; default: <index dir>/uploads/<corpus name>-<hash>/, each knowledge base its own)",
        )
        p.add_argument(
            "--kb",
            action="append",
            default=[],
            metavar="NAME=FOLDER",
            help="a knowledge base (repeatable): NAME is 1-64 letters, digits, -, _ or Chinese characters (a bare "
            "FOLDER is named after the folder); a .assistant.toml in FOLDER may set its top_k, alpha, threshold "
            "and model, which the command's own flags override; with --corpus (or the index path) that folder "
            "comes first, else only these are used",
        )

    p = sub.add_parser(
        "index",
        help="build or update the index of a folder of documents",
        description="Index a folder: only new or changed files are encoded again.",
        epilog=EPILOG["index"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", type=Path, nargs="?", help="folder of documents (default: seeds/)")
    common(p, corpus_flag=False)
    p.add_argument("--rebuild", action="store_true", help="re-encode everything")
    p.add_argument("--json", action="store_true", help="print the manifest summary as JSON")
    p.add_argument("--watch", action="store_true", help="then keep re-indexing files as they are saved (Ctrl-C stops)")

    p = sub.add_parser(
        "ask",
        help="answer one question from the command line",
        description="Answer a question with the best passages and their citations.",
        epilog=EPILOG["ask"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("question")
    common(p)
    p.add_argument(
        "--history",
        action="append",
        default=[],
        metavar="PREVIOUS_QUESTION",
        help="an earlier question of the conversation (repeatable, oldest first)",
    )
    p.add_argument("-k", "--top-k", type=int, help="passages to show (1-50, default 5 or the KB's top_k)")
    p.add_argument(
        "--in",
        dest="search_in",
        default="all",
        metavar="NAME",
        help="which knowledge base to answer from: a NAME of --kb, or all (default: all, merged by score)",
    )
    p.add_argument("--alpha", type=float, default=None, help="dense weight against keywords, 0..1")
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="least probability (0-1) that a passage answers for it to be cited; under it for the best one, "
        "nothing is found (default 0.3; 0 always answers)",
    )
    p.add_argument("--json", action="store_true", help="print JSON: question, found, answer, passages")

    p = sub.add_parser(
        "serve",
        help="start the web chat",
        description="Start the Gradio web chat (with several --kb, a selector on the page chooses one or all).",
        epilog=EPILOG["serve"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--share", action="store_true", help="also open a public Gradio share link")
    p.add_argument(
        "--auth",
        metavar="USER[:PASSWORD]",
        help=f"require this login; without :PASSWORD the password is read from ${PASSWORD_ENV}, which keeps it "
        f"out of the shell history (${AUTH_ENV}=USER:PASSWORD also works)",
    )
    p.add_argument("--no-uploads", action="store_true", help="do not let the page add or remove documents")
    p.add_argument("--watch", action="store_true", help="re-index each knowledge base's files as they are saved")
    p = sub.add_parser(
        "eval",
        help="measure retrieval quality on a question set",
        description="Index DATA's passages (SQuAD .json, or NAME.questions.jsonl beside NAME.passages.jsonl) in a "
        "temporary index, ask every question, and print hit@1/3/5/10, MRR@10, sentence@1, not-found accuracy, q/s and build "
        "time. With --corpus DIR, DATA is a questions .jsonl ({question, answers, history?}) asked of DIR.",
        epilog=EPILOG["eval"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", type=Path)
    common(p)
    p.add_argument(
        "--questions",
        type=Path,
        action="append",
        default=[],
        metavar="JSONL",
        help="more questions (e.g. unanswerable ones) to ask of the same index (repeatable)",
    )
    p.add_argument("--compare", action="store_true", help="keyword-only, dense-only and hybrid side by side")
    p.add_argument("--alpha", type=float, default=None, help="dense weight for the hybrid configuration")
    p.add_argument(
        "--threshold", type=float, default=None, help="least probability (0-1) that the best passage answers"
    )
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument(
        "--misses",
        action="store_true",
        help="also list questions whose gold passage was not first, and answer sentences without the answer",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser
