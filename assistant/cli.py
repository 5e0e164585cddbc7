"""The command line: ``python -m assistant index|ask|serve|eval``."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path

from .errors import AssistantError, CorpusError

AUTH_ENV = "ASSISTANT_AUTH"
PASSWORD_ENV = "ASSISTANT_PASSWORD"
TOKEN_ENV = "ASSISTANT_API_TOKEN"  # the bearer token programs send to the REST API when --auth is on
EPILOG = {
    "index": "example: python -m assistant index my_docs/\n"
    "  in Milvus (Lite): python -m assistant index my_docs/ --milvus milvus/docs.db",
    "ask": 'example: python -m assistant ask "世界互联网大会国际组织是什么时候成立的?" --json',
    "serve": "example: python -m assistant serve --corpus my_docs/ --port 7860",
    "eval": "examples:\n  python -m assistant eval eval/data/cmrc2018_trial.json --compare\n"
    "  python -m assistant eval eval/data/seed_dev_questions.jsonl --corpus seeds/",
}

# How each command is given a folder, added to an error that asks for another one.
FOLDER_HINT = {
    "index": "For example: python -m assistant index FOLDER",
    "ask": 'For example: python -m assistant ask "QUESTION" --corpus FOLDER',
    "serve": "For example: python -m assistant serve --corpus FOLDER",
    "eval": "For example: python -m assistant eval QUESTIONS.jsonl --corpus FOLDER",
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
            "--index-dir", type=Path, help="where indexes are kept (default: $ASSISTANT_INDEX_DIR or embeddings/)"
        )
        p.add_argument(
            "--sentence-vectors",
            choices=("auto", "on", "off"),
            default="auto",
            help="vectors for each passage's sentences (default auto: with the bundled USE, which makes them in "
            "the passages' own pass, up to 2,000 passages; on: with any model, which then encodes every sentence too)",
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
            help="folder of documents added from the web page, indexed with the corpus "
            "(default: <index dir>/uploads/<corpus name>-<hash>/)",
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
    p.add_argument("-k", "--top-k", type=int, default=5, help="passages to show (1-50, default 5)")
    p.add_argument("--alpha", type=float, default=None, help="dense weight against keywords, 0..1")
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="least probability (0-1) that a passage answers for it to be cited; under it for the best one, "
        "nothing is found (default 0.4; 0 always answers)",
    )
    p.add_argument("--json", action="store_true", help="print JSON: question, found, answer, passages")

    p = sub.add_parser(
        "serve", help="start the web chat", description="Start the Gradio web chat.", epilog=EPILOG["serve"]
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
    p.add_argument("--watch", action="store_true", help="re-index the corpus folder's files as they are saved")
    p.add_argument(
        "--kb",
        type=Path,
        action="append",
        default=[],
        metavar="FOLDER",
        help="another knowledge base for the REST API, named after its folder (repeatable; the page shows --corpus)",
    )
    p = sub.add_parser(
        "eval",
        help="measure retrieval quality on a question set",
        description="Index DATA's passages (SQuAD .json, or NAME.questions.jsonl beside NAME.passages.jsonl) in a "
        "temporary index, ask every question, and print hit@1/3/5/10, MRR@10, not-found accuracy, q/s and build "
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
    p.add_argument("--misses", action="store_true", help="also list questions whose gold passage was not first")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a terminal that cannot show a character gets an escape, not a crash
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return COMMANDS[args.command](args)
    except AssistantError as exc:
        hint = f" {FOLDER_HINT[args.command]}" if isinstance(exc, CorpusError) and exc.wrong_folder else ""
        print(f"error: {_printable(str(exc))}{hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader (e.g. ``| head``) left: stop quietly
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # a bug: one sentence for the user, the traceback with -v
        logging.getLogger(__name__).info("Unexpected error", exc_info=True)
        print(
            f"error: unexpected {type(exc).__name__} ({_printable(str(exc))[:200]}); "
            "run again with -v to see the details, and please report it.",
            file=sys.stderr,
        )
        return 1


def _printable(text: str) -> str:
    """Text without control characters: a file name or document cannot drive the terminal."""
    from .text import CONTROL

    return CONTROL.sub("\ufffd", text)


def _assistant(args, corpus: Path | None, *, own_uploads: bool = False, **kwargs):
    """The assistant the command's flags describe, for ``corpus``; with ``own_uploads`` its uploads go to the
    corpus's default folder whatever ``--uploads`` says (another knowledge base of ``serve --kb``)."""
    from .api import Assistant, default_corpus, default_uploads

    uploads = None
    if not getattr(args, "no_uploads", False):
        given = None if own_uploads else args.uploads
        uploads = given or default_uploads(corpus or default_corpus(), args.index_dir)
    return Assistant(
        corpus,
        model=args.model,
        index_root=args.index_dir,
        uploads=uploads,
        sentence_vectors=args.sentence_vectors,
        milvus=args.milvus,
        **kwargs,
    )


def cmd_index(args) -> int:
    started = time.perf_counter()
    bot = _assistant(args, args.path, progress=not args.json)
    index = bot.refresh(rebuild=args.rebuild)
    m = index.manifest
    summary = {
        "corpus": m["corpus"],
        "files": len(set(m["files"]) - set(m.get("skipped", {}))),  # the files indexed, not those skipped
        "skipped": m.get("skipped", {}),
        "passages": m["passages"],
        "sentence_vectors": m.get("sentences", 0),
        "encoded_passages": index.encoded,
        "resumed_texts": m.get("resumed_texts", 0),
        "model": m["model"],
        "index": m.get("location", str(index.folder)),
        "seconds": round(time.perf_counter() - started, 2),
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=1))
    else:
        skipped = f" ({len(summary['skipped'])} skipped, below)" if summary["skipped"] else ""
        print(
            f"Indexed {summary['files']} file(s){skipped}, {summary['passages']} passages with {summary['model']} "
            f"in {summary['seconds']} s → {summary['index']}"
        )
        if summary["resumed_texts"]:
            print(f"  resumed: {summary['resumed_texts']} texts were already encoded by an interrupted build")
        for source, why in summary["skipped"].items():
            print(_printable(f"  skipped {source}: {why}"))
    if args.watch:
        _watch(bot)
    return 0


def _watch(bot) -> None:
    """Re-index the folder's changes until Ctrl-C, one line per update."""
    from .api import Watcher

    bot.progress = False
    print(f"Watching {bot.corpus} for changes; Ctrl-C stops.", flush=True)
    watcher = Watcher(bot).start()
    try:
        while watcher.running:
            time.sleep(0.5)
    finally:
        watcher.stop()


def cmd_ask(args) -> int:
    from .search import clean_question, render_text

    clean_question(args.question)  # a bad question fails before anything loads
    bot = _assistant(args, args.corpus, top_k=args.top_k if 1 <= args.top_k <= 50 else 5)
    bot.warm_up()
    answer = bot.ask(args.question, args.history, top_k=args.top_k, alpha=args.alpha, threshold=args.threshold)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=1))
    else:
        print(_printable(render_text(answer)))
    return 0


def login(flag: str | None) -> tuple[str, str] | None:
    """The (user, password) a server requires, from ``--auth`` and the environment; None for no login."""
    spec = flag or os.environ.get(AUTH_ENV)
    if not spec:
        return None
    user, _, password = spec.partition(":")
    password = password or os.environ.get(PASSWORD_ENV, "")
    if not user or not password:
        raise AssistantError(
            f"--auth needs a user and a password: --auth USER with the password in ${PASSWORD_ENV}, or --auth USER:PASSWORD."
        )
    return user, password


def cmd_serve(args) -> int:
    _import_in_background("gradio")  # about half of the start-up: let it overlap loading the index and model
    from .web import serve

    auth = login(args.auth)
    if (args.share or args.host not in ("127.0.0.1", "localhost", "::1")) and auth is None:
        logging.getLogger(__name__).warning(
            "The chat is reachable from other machines without a login; add --auth USER (password in $%s).",
            PASSWORD_ENV,
        )
    more = [_assistant(args, folder, progress=True, own_uploads=True) for folder in args.kb]
    serve(
        _assistant(args, args.corpus, progress=True),
        host=args.host,
        port=args.port,
        share=args.share,
        auth=auth,
        api_token=os.environ.get(TOKEN_ENV) or None,
        watch=args.watch,
        more_kbs=more,
    )
    return 0


def cmd_eval(args) -> int:
    from .evaluate import markdown_table, run_eval, to_json

    settings = {k: v for k, v in (("alpha", args.alpha), ("threshold", args.threshold)) if v is not None}
    settings["sentence_vectors"] = args.sentence_vectors
    settings["milvus"] = args.milvus
    configs = ("keyword", "dense", "hybrid") if args.compare else ("hybrid",)
    results = run_eval(
        args.data,
        corpus=args.corpus,
        extra_questions=args.questions,
        model=args.model,
        configs=configs,
        limit=args.limit,
        progress=not args.no_progress,
        **settings,
    )
    if args.json:
        print(json.dumps(to_json(results), ensure_ascii=False, indent=1))
        return 0
    print(markdown_table(results, args.data.name))
    if args.misses:
        for r in results:
            for m in r.misses:
                print(f"[{r.name}] rank {m['rank']}: {m['question']} → {m['top']} {m['top_text']}")
    return 0


def _import_in_background(module: str) -> None:
    """Start importing ``module`` in a daemon thread; a later ``import`` waits for it or retries it."""
    import importlib
    import threading

    def run() -> None:
        try:
            importlib.import_module(module)
        except Exception:  # the real import, later, reports it
            logging.getLogger(__name__).debug("Background import of %s failed", module, exc_info=True)

    threading.Thread(target=run, name=f"import-{module}", daemon=True).start()


COMMANDS = {"index": cmd_index, "ask": cmd_ask, "serve": cmd_serve, "eval": cmd_eval}
