"""The command line: ``python -m assistant index|ask|serve|eval``."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path

from .cliargs import AUTH_ENV, PASSWORD_ENV, build_parser
from .errors import AssistantError, CorpusError

TOKEN_ENV = "ASSISTANT_API_TOKEN"  # the bearer token programs send to the REST API when --auth is on
# How each command is given a folder, added to an error that asks for another one.
FOLDER_HINT = {
    "index": "For example: python -m assistant index FOLDER",
    "ask": 'For example: python -m assistant ask "QUESTION" --corpus FOLDER',
    "serve": "For example: python -m assistant serve --corpus FOLDER",
    "eval": "For example: python -m assistant eval QUESTIONS.jsonl --corpus FOLDER",
}


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


def _kbs(args, folder: Path | None, *, background: bool = False, **kwargs):
    """The knowledge bases the command's flags describe: ``folder`` (``--corpus`` or the index path; seeds/
    when no ``--kb`` is given either) first, then each ``--kb``. With the default model, the stronger one
    (``--upgrade``) is either built after the fast one (``background``: each knowledge base gets an
    ``Upgrade``, for ``serve`` and ``index``) or used at once (``ask``)."""
    from .api import KBSpec, default_corpus, open_kbs, upgrade_model
    from .errors import KnowledgeBaseError

    specs = [KBSpec.parse(text) for text in args.kb]
    if folder is not None or not specs:
        specs.insert(0, KBSpec(None, folder or default_corpus()))
    if args.milvus and "#" in args.milvus and len(specs) > 1:
        raise KnowledgeBaseError(
            "--milvus URI#collection names one collection; leave #collection out with several knowledge bases."
        )
    flags = {k: getattr(args, k, None) for k in ("top_k", "alpha", "threshold", "model")}
    strong = upgrade_model(args.upgrade, args.model) if not args.milvus else None
    return open_kbs(
        specs,
        flags=flags,
        index_root=args.index_dir,
        uploads=args.uploads,
        no_uploads=getattr(args, "no_uploads", False),
        sentence_vectors=args.sentence_vectors,
        milvus=args.milvus,
        fallback_model=None if background else strong,
        upgrade=strong if background else None,
        **kwargs,
    )


class _SummaryLists(logging.Filter):
    """``index`` names each skipped file in its summary: its log line would say it a second time."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("assistant.storage.") and str(record.msg).startswith("Skipped"))


def cmd_index(args) -> int:
    if not args.verbose and not args.watch:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_SummaryLists())
    kbs = _kbs(args, args.path, background=True, progress=not args.json)
    summaries = []
    for name, bot in kbs.items():
        started = time.perf_counter()
        index = bot.refresh(rebuild=args.rebuild)
        summaries.append(_summary(index, time.perf_counter() - started, name if len(kbs) > 1 else None))
        if bot.upgrade is not None:  # then the stronger model's index, timed on its own
            started = time.perf_counter()
            if strong := bot.upgrade.run(progress=not args.json, rebuild=args.rebuild):
                summaries[-1]["stronger"] = _summary(strong, time.perf_counter() - started, None)
            else:
                summaries[-1]["stronger"] = {"error": bot.upgrade.error}
    if args.json:
        print(json.dumps(summaries[0] if len(kbs) == 1 else summaries, ensure_ascii=False, indent=1))
    else:
        for summary in summaries:
            skipped = f" ({len(summary['skipped'])} skipped, below)" if summary["skipped"] else ""
            named = f"[{summary['kb']}] " if "kb" in summary else ""
            print(
                f"{named}Indexed {summary['files']} file(s){skipped}, {summary['passages']} passages with "
                f"{summary['model']} in {summary['seconds']} s → {summary['index']}"
            )
            if summary["resumed_texts"]:
                print(f"  resumed: {summary['resumed_texts']} texts were already encoded by an interrupted build")
            if better := summary.get("stronger"):
                print(
                    f"  stronger index: {better['passages']} passages with {better['model']} in {better['seconds']} s "
                    f"→ {better['index']}"
                    if "error" not in better
                    else _printable(f"  stronger index not built: {better['error']}")
                )
            for source, why in summary["skipped"].items():
                print(_printable(f"  skipped {source}: {why}"))
    if args.watch:
        _watch([bot for _, bot in kbs.items()])
    return 0


def _summary(index, seconds: float, kb: str | None) -> dict:
    """What ``index`` printed of one index, the knowledge base named when there are several."""
    m = index.manifest
    return {
        **({"kb": kb} if kb else {}),
        "corpus": m["corpus"],
        "files": len(set(m["files"]) - set(m.get("skipped", {}))),  # the files indexed, not those skipped
        "skipped": m.get("skipped", {}),
        "passages": m["passages"],
        "sentence_vectors": m.get("sentences", 0),
        "encoded_passages": index.encoded,
        "resumed_texts": m.get("resumed_texts", 0),
        "model": m["model"],
        "index": m.get("location", str(index.folder)),
        "seconds": round(seconds, 2),
    }


def _watch(bots) -> None:
    """Re-index the folders' changes until Ctrl-C, one line per update."""
    from .api import Watcher

    watchers = []
    for bot in bots:
        bot.progress = False
        watchers.append(Watcher(bot).start())  # returns once changes are seen: the line below is then true
        print(f"Watching {bot.corpus} for changes; Ctrl-C stops.", flush=True)
    try:
        while all(w.running for w in watchers):
            time.sleep(0.5)
    finally:
        for watcher in watchers:
            watcher.stop()


def cmd_ask(args) -> int:
    from .search import clean_question, render_text

    clean_question(args.question)  # a bad question fails before anything loads
    kbs = _kbs(args, args.corpus)
    kbs.chosen(args.search_in)  # an unknown --in fails before anything loads
    for _, bot in kbs.chosen(args.search_in):
        bot.warm_up()
    if len(kbs) == 1:
        answer = kbs.first.ask(args.question, args.history)  # the flags are the assistant's settings already
    else:
        answer = kbs.ask(args.question, args.history, kb=args.search_in)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=1))
    else:
        print(_printable(render_text(answer)))
        if len(kbs) > 1 and answer.found:
            print("\n".join(f"  [{n}] from {hit.kb}" for n, hit in enumerate(answer.hits, start=1)))
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
    serve(
        _kbs(args, args.corpus, background=True, progress=True),
        host=args.host,
        port=args.port,
        share=args.share,
        auth=auth,
        api_token=os.environ.get(TOKEN_ENV) or None,
        watch=args.watch,
    )
    return 0


def cmd_eval(args) -> int:
    import dataclasses

    from .api import upgrade_model
    from .evaluate import markdown_table, run_eval, to_json

    configs = ("keyword", "dense", "hybrid") if args.compare else ("hybrid",)
    model = upgrade_model(args.upgrade, args.model) or args.model  # the stronger model, unless one is named
    runs = [(None, args.corpus, {"model": model})] if args.corpus or not args.kb else []
    if args.kb:  # then each knowledge base in turn, with its own settings (the flags override them)
        from .api import KBSpec, read_settings, unique_names

        specs = [KBSpec.parse(text) for text in args.kb]
        flags = {"model": args.model, "alpha": args.alpha, "threshold": args.threshold}
        for name, spec in zip(unique_names(specs), specs, strict=True):
            own = read_settings(spec.folder).but(**flags).to_dict()
            runs.append((name, spec.folder, {**own, "model": own.get("model") or model}))
    results = []
    for name, corpus, own in runs:
        own = {**{"alpha": args.alpha, "threshold": args.threshold}, **own}
        settings = {k: v for k, v in own.items() if k in ("alpha", "threshold") and v is not None}
        done = run_eval(
            args.data,
            corpus=corpus,
            extra_questions=args.questions,
            model=own.get("model"),
            configs=configs,
            limit=args.limit,
            progress=not args.no_progress,
            sentence_vectors=args.sentence_vectors,
            milvus=args.milvus,
            **settings,
        )
        results += [dataclasses.replace(r, name=f"{name}:{r.name}") if name else r for r in done]
    if args.json:
        print(json.dumps(to_json(results), ensure_ascii=False, indent=1))
        return 0
    print(markdown_table(results, args.data.name))
    if args.misses:
        for r in results:
            for m in r.misses:
                print(f"[{r.name}] rank {m['rank']}: {m['question']} → {m['top']} {m['top_text']}")
            for m in r.sentence_misses:
                print(f"[{r.name}] sentence without {m['answers'][0]!r}: {m['question']} → {m['sentence']}")
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
