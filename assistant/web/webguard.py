"""What the web server accepts: a bound on every request's body, and Gradio's own refusals as one sentence.

Imported only when the web app is built (it needs gradio).
"""

import inspect
import json
import logging
import re

import gradio as gr

from ..text import MAX_FILES_PER_UPLOAD, MAX_UPLOAD_BYTES

logger = logging.getLogger(__name__)

# A request's body, except uploads (Gradio streams those to disk and checks each file's size itself): a chat of
# 200 turns with its replies is ~1-2 MB; 4 MB of JSON parses into at most a few hundred MB of Python objects.
MAX_BODY_BYTES = 4 << 20
UPLOAD_PATHS = ("/gradio_api/upload", "/upload")
# The REST API's uploads are read by Starlette's multipart parser, which spools files to disk: bounded by what one
# upload may hold (MAX_FILES_PER_UPLOAD files of MAX_UPLOAD_BYTES each, and the form's own bytes), not by the JSON bound.
REST_UPLOAD = re.compile(r"/api/v1/kbs/[^/]+/documents/?")
MAX_REST_UPLOAD_BYTES = MAX_FILES_PER_UPLOAD * MAX_UPLOAD_BYTES + (1 << 20)
# Events waiting for a worker: each holds its parsed request, so the queue is bounded too.
MAX_QUEUE = 64
UNEXPECTED = "Something went wrong; try again, and report it if it happens again (the server log has a line on it)."


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets HTTP 413 and one sentence, before anything reads it."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES, upload_limit: int = MAX_REST_UPLOAD_BYTES):
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path", "").endswith(UPLOAD_PATHS):
            return await self.app(scope, receive, send)
        limit = self.upload_limit if REST_UPLOAD.fullmatch(scope.get("path", "")) else self.limit
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await self._refuse(send, limit)
        seen = 0

        async def bounded_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, bounded_receive, send)
        except _TooLarge:
            await self._refuse(send, limit)

    async def _refuse(self, send, limit: int) -> None:
        if limit == self.limit:
            sentence = (
                f"The request is larger than {limit >> 20} MB; send a shorter question or history "
                "(documents go through the upload endpoint)."
            )
        else:
            sentence = (
                f"The upload is larger than {limit >> 20} MB; send at most {MAX_FILES_PER_UPLOAD} files of "
                f"{MAX_UPLOAD_BYTES >> 20} MB each at a time."
            )
        logger.info("Refused a request body over %d bytes", limit)
        body = json.dumps({"error": sentence}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


async def unreadable_request(request, exc):
    """FastAPI's answer to a body that is not the JSON an endpoint reads: one sentence, not a list of errors."""
    from fastapi.responses import JSONResponse

    logger.info("Refused an unreadable request to %s", request.url.path)
    sentence = 'The request is not valid JSON of the form {"data": [values…]}; see the API page (Use via API).'
    return JSONResponse({"error": sentence}, status_code=422)


def app_settings(settings: dict | None = None) -> dict:
    """``launch``'s ``app_kwargs`` with the body bound and the one-sentence answer to unreadable requests."""
    from fastapi.exceptions import RequestValidationError
    from starlette.middleware import Middleware

    settings = dict(settings or {})
    settings["middleware"] = [*settings.get("middleware", []), Middleware(BodyLimit)]
    settings["exception_handlers"] = {
        **settings.get("exception_handlers", {}),
        RequestValidationError: unreadable_request,
    }
    return settings


def parameters(fn) -> list[inspect.Parameter]:
    """The parameters of ``fn`` that take the event's inputs (Gradio's own request, progress and event data
    left out)."""
    params = inspect.signature(inspect.unwrap(fn)).parameters.values()
    return [p for p in params if p.name not in ("request", "progress", "evt")]


class GuardedBlocks(gr.Blocks):
    """Blocks whose requests fail with one sentence naming what is wrong, never a traceback.

    The app's own functions turn their errors into ``gr.Error`` themselves (``webapi.guarded``); what reaches
    here failed in Gradio before or after them: too few values, a file path that was never uploaded, a value
    a component cannot read. Missing trailing values that have defaults are filled in with them.
    """

    async def process_api(self, block_fn, inputs, *args, **kwargs):
        fn = self.fns[block_fn] if isinstance(block_fn, int) else block_fn
        name = f"/{fn.api_name}" if fn.api_name else "this event"
        try:
            inputs = _with_defaults(fn, list(inputs or []), name)
            return await super().process_api(block_fn, inputs, *args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:  # Gradio refused the request: one line in the log, one sentence for the caller
            sentence = _sentence(exc, name)
            logger.info("Refused a call to %s: %s (%s)", name, sentence, type(exc).__name__)
            logger.debug("Details", exc_info=True)
            raise gr.Error(sentence, print_exception=False) from None


def _with_defaults(fn, inputs: list, name: str) -> list:
    """``inputs`` padded with the defaults of the arguments a client left out; a sentence if one has none."""
    wanted = len(fn.inputs)
    if len(inputs) >= wanted or fn.fn is None:
        return inputs
    params = parameters(fn.fn)
    sent = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][len(inputs) : wanted]
    missing = [p.name for p in sent if p.default is inspect.Parameter.empty]
    if missing or len(inputs) + len(sent) < wanted:
        sent_by_clients = [
            p for p, block in zip(params, fn.inputs, strict=False) if not getattr(block, "stateful", False)
        ]
        names = ", ".join(p.name for p in sent_by_clients)
        raise gr.Error(
            f"{name} takes {wanted} values ({names}); got {len(inputs)}"
            + (f", without {', '.join(missing)}." if missing else "."),
            print_exception=False,
        )
    return inputs + [p.default for p in sent]


HISTORY_SHAPE = (
    'The chat history must be a list of messages like {"role": "user", "content": [{"type": "text", "text": "…"}]}, '
    "as /chat returns them"
)


def _sentence(exc: Exception, name: str) -> str:
    from gradio.exceptions import InvalidPathError
    from pydantic import ValidationError

    if isinstance(exc, InvalidPathError):
        return (
            f"{name} takes files uploaded to this server first (gradio_client's handle_file does that); "
            "a path on the server is not accepted."
        )
    if isinstance(exc, ValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ())) or "the top"
        what = HISTORY_SHAPE if "Chatbot" in exc.title else f"{name} got a value of the wrong shape"
        return f"{what}; at {where}: {str(first.get('msg', 'not valid')).rstrip('.')}."[:400]
    if "Could not preprocess input component" in str(exc):
        return f"{name} got a value of the wrong shape; see the API page (Use via API) for what each value must be."
    return UNEXPECTED
