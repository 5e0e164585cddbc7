"""The REST API (``/api/v1``): a FastAPI app mounted on the web chat's server, behind the page's login.

Imported only when the server is built (it needs fastapi, which comes with gradio).
"""

from __future__ import annotations

import hmac
import logging
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.routing import Mount

from ..api import ALL, Assistant, KnowledgeBases
from ..api import Filters as SearchFilters
from ..errors import AssistantError, QuestionError, UnknownKnowledgeBase
from ..records import Passage
from ..search import MAX_HISTORY_ITEMS, MAX_TOP_K
from ..text import MAX_FILES_PER_UPLOAD
from .webguard import UNEXPECTED

logger = logging.getLogger(__name__)

PREFIX = "/api/v1"
TOKEN_ENV = "ASSISTANT_API_TOKEN"
DEFAULT_KB = "default"  # the first knowledge base
DESCRIPTION = f"""Search the knowledge base and manage its documents.

**Passage ids.** A passage is named `source#paragraph.part`: the document's source as `/kbs` lists it, the cited
paragraph number, and the part of a long paragraph (0 when it is whole), e.g. `uploads/notes.md#3.0`. In a URL it
is percent-encoded: `/api/v1/passages/uploads%2Fnotes.md%233.0/context`. Search results carry each passage's `id`.

**Knowledge bases.** Each is a corpus folder with its own name (`GET /kbs` lists them with their settings);
`{DEFAULT_KB}` names the first. A search's `kb` is a name, `{DEFAULT_KB}` or `{ALL}` (every one, merged by score);
each passage names its `kb`, the one its id is looked up in (`?kb=`).

**Login.** When the page asks for a login, so does the API: send the page's login cookie, or
`Authorization: Bearer <token>` with the token the server was given in `${TOKEN_ENV}`.

**Errors** are `{{"error": "one sentence"}}` with the status code: 400 a request the assistant cannot use,
401 no or wrong credentials, 404 no such knowledge base, passage or document, 413 a body over the limit,
422 a field missing or of the wrong type.
"""


class NotFound(AssistantError):
    """A knowledge base, passage or document the request names does not exist."""


class Filters(BaseModel):
    """Which passages a search may return."""

    model_config = ConfigDict(extra="forbid")
    source: Annotated[str, Field(strict=True, max_length=1000)] | None = Field(
        None, description='A glob over the passage\'s source, e.g. "handbook/*".'
    )
    type: Annotated[str, Field(strict=True, max_length=20)] | None = Field(
        None, description='The document\'s file type, e.g. ".pdf" or "md".'
    )
    modified_after: Annotated[str, Field(strict=True, max_length=32)] | None = Field(
        None, description="Only files modified on or after this day (ISO date, UTC, as indexed), e.g. 2024-01-01."
    )
    modified_before: Annotated[str, Field(strict=True, max_length=32)] | None = Field(
        None, description="Only files modified before this day (ISO date, UTC, as indexed)."
    )

    def chosen(self) -> SearchFilters:
        return SearchFilters(**self.model_dump())


class SearchRequest(BaseModel):
    """A question to the knowledge base."""

    model_config = ConfigDict(extra="forbid")
    question: Annotated[str, Field(strict=True, min_length=1, max_length=2000)]
    kb: Annotated[str, Field(strict=True, max_length=200)] = Field(
        DEFAULT_KB, description=f"A knowledge base's name, {DEFAULT_KB} (the first) or {ALL} (every one)."
    )
    history: Annotated[list[Annotated[str, Field(strict=True)]], Field(max_length=MAX_HISTORY_ITEMS)] = Field(
        default_factory=list, description="The chat's earlier questions, oldest first."
    )
    top_k: Annotated[int, Field(strict=True, ge=1, le=MAX_TOP_K)] | None = Field(
        None, description="Passages to return (default: the knowledge base's own setting, 5 unless set)."
    )
    threshold: Annotated[float, Field(strict=False, ge=0, le=1, allow_inf_nan=False)] | None = Field(
        None, description="Least probability (0-1) that a passage answers (default: the knowledge base's own, 0.3)."
    )
    filters: Filters | None = None


@dataclass(frozen=True)
class PassageId:
    """A passage's stable name, ``source#paragraph.part``."""

    source: str
    paragraph: int
    part: int = 0

    def __str__(self) -> str:
        return f"{self.source}#{self.paragraph}.{self.part}"

    @classmethod
    def of(cls, passage: Passage) -> PassageId:
        return cls(passage.source, passage.paragraph, passage.part)

    @classmethod
    def parse(cls, text: str) -> PassageId:
        """The id in ``text``, or a ``QuestionError`` saying what one looks like."""
        source, _, where = text.rpartition("#")
        paragraph, _, part = where.partition(".")
        if not source or not paragraph.isdigit() or not (part or "0").isdigit() or int(paragraph) < 1:
            raise QuestionError(
                f"{text[:80]!r} is not a passage id; ids look like source#paragraph.part (e.g. notes.md#3.0), "
                "percent-encoded in the URL."
            )
        return cls(source, int(paragraph), int(part or 0))


def passage_fields(passage: Passage) -> dict:
    return {
        "id": str(PassageId.of(passage)),
        "source": passage.source,
        "paragraph": passage.paragraph,
        "part": passage.part,
        "citation": passage.citation,
        "text": passage.text,
    }


class GuardedRoute(APIRoute):
    """A route whose failures are one sentence with a status code: the user's to fix 400/404, a bug 500 (one
    line in the log, never a traceback)."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def guarded(request: Request):
            try:
                return await handler(request)
            except (HTTPException, RequestValidationError):
                raise
            except (NotFound, UnknownKnowledgeBase) as exc:
                return refuse(request, 404, str(exc))
            except AssistantError as exc:
                return refuse(request, 400, str(exc))
            except Exception as exc:
                logger.error("%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
                logger.debug("Details", exc_info=True)
                return JSONResponse({"error": UNEXPECTED}, status_code=500)

        return guarded


def refuse(request: Request, status: int, sentence: str) -> JSONResponse:
    logger.info("Refused %s %s (%d): %s", request.method, request.url.path, status, sentence[:200])
    return JSONResponse({"error": sentence}, status_code=status)


async def invalid_fields(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's list of validation errors as one sentence naming the first field and what it must be."""
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(loc) or "the body"
    kind = first.get("type", "")
    if kind == "missing":
        sentence = f"{field} is missing; send it (see /api/v1/docs)."
    elif kind == "json_invalid":
        sentence = "The body is not valid JSON; send a JSON object (see /api/v1/docs)."
    elif kind == "extra_forbidden":
        sentence = f"{field} is not a field this endpoint reads; see /api/v1/docs for the fields it takes."
    else:  # pydantic's "Input should be a valid integer" → "top_k must be a valid integer; got '5'."
        what = re.sub(r"^\w+ should", "must", str(first.get("msg", "is not valid")).rstrip("."))
        sentence = f"{field} {what}; got {str(first.get('input'))[:60]!r}."
    more = f" ({len(errors) - 1} more field{'s' * (len(errors) > 2)} wrong.)" if len(errors) > 1 else ""
    return refuse(request, 422, sentence[:400] + more)


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    path = request.url.path[:200]
    sentences = {
        404: f"There is no {path}; see /api/v1/docs for the endpoints.",
        405: f"{path} does not take {request.method}; see /api/v1/docs.",
    }
    detail = exc.detail if isinstance(exc.detail, str) else ""
    return refuse(request, exc.status_code, sentences.get(exc.status_code, detail or UNEXPECTED))


def build_rest(kbs: KnowledgeBases) -> FastAPI:
    """The REST app over the knowledge bases ``kbs`` (the first is ``default``); serve it with :func:`mounted`
    (the login and body bound come from the server it is mounted on)."""
    app = FastAPI(
        title="Document assistant API",
        version="1",
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        exception_handlers={RequestValidationError: invalid_fields, HTTPException: http_error},
    )
    app.router.route_class = GuardedRoute
    known_kb = kbs.get

    @app.get("/kbs", summary="The knowledge bases with their documents")
    def list_kbs() -> list[dict]:
        return [{**summary(name, assistant), "settings": kbs.settings(name)} for name, assistant in kbs.items()]

    @app.post("/search", summary="Answer a question: the same JSON as `ask --json`, each passage with its id")
    def search(request: SearchRequest) -> dict:
        filters = request.filters.chosen() if request.filters else None
        answer = kbs.ask(
            request.question,
            request.history,
            kb=request.kb,
            top_k=request.top_k,
            threshold=request.threshold,
            filters=filters,
        )
        out = answer.to_dict()
        for fields, hit in zip(out["passages"], answer.hits, strict=True):
            fields["id"] = str(PassageId.of(hit.passage))
        return out

    @app.get("/passages/{passage_id:path}/context", summary="A passage with the paragraphs around it")
    def context(passage_id: str, kb: str = DEFAULT_KB, before: int = 1, after: int = 1) -> dict:
        assistant = known_kb(kb)
        pid = PassageId.parse(passage_id)
        try:
            passage = assistant.passage(pid.source, pid.paragraph, pid.part)
        except QuestionError as exc:
            raise NotFound(f"{exc} Search again: the documents may have changed.") from None
        around = assistant.context(passage, before=min(max(before, 0), 10), after=min(max(after, 0), 10))
        return {
            "passage": passage_fields(passage),
            "context": [{**passage_fields(p), "cited": p.paragraph == passage.paragraph} for p in around],
        }

    @app.post(
        "/kbs/{name}/documents", summary="Upload documents of any type the corpus reads (multipart, field `files`)"
    )
    def upload(name: str, files: Annotated[list[UploadFile], File(description="the documents")]) -> JSONResponse:
        if name in (ALL, "*"):
            raise QuestionError(
                "Uploads go to one knowledge base: name it instead of all (GET /api/v1/kbs lists them)."
            )
        assistant = known_kb(name)
        if len(files) > MAX_FILES_PER_UPLOAD:
            raise QuestionError(f"{len(files)} files at once; upload at most {MAX_FILES_PER_UPLOAD} at a time.")
        with tempfile.TemporaryDirectory(prefix="assistant-upload-") as folder:
            pairs = []
            for n, file in enumerate(files):
                path = Path(folder) / str(n)
                with path.open("wb") as out:
                    shutil.copyfileobj(file.file, out)
                pairs.append((file.filename or "", path))
            report = assistant.add_documents(pairs)
        body = {"added": [asdict(d) for d in report.added], "refused": [list(r) for r in report.refused]}
        if not report.added:
            reasons = "; ".join(reason.rstrip(".") for _, reason in report.refused) or "no files were sent"
            return JSONResponse({"error": f"Nothing was added: {reasons}.", **body}, status_code=400)
        return JSONResponse(body)

    @app.delete("/kbs/{name}/documents/{source:path}", summary="Remove an uploaded document, e.g. uploads/notes.md")
    def remove(name: str, source: str) -> dict:
        assistant = known_kb(name)
        if source not in {d.source for d in assistant.documents()}:
            raise NotFound(f"{source[:200]} is not in the knowledge base; GET /api/v1/kbs lists its documents.")
        assistant.remove_document(source)
        return {"removed": source, "documents": [asdict(d) for d in assistant.documents()]}

    return app


def summary(name: str, assistant: Assistant) -> dict:
    """One knowledge base as ``GET /kbs`` lists it."""
    index, docs = assistant.index, assistant.documents()
    return {
        "name": name,
        "documents": [asdict(d) for d in docs],
        "passages": sum(d.passages for d in docs),
        "model": index.manifest.get("model", assistant.encoder.name),
        "updated": index.manifest.get("built_at"),
        "uploads": assistant.uploads is not None,
    }


class Login:
    """ASGI guard in front of the REST app: when the Gradio server it is mounted on asks for a login, a request
    needs the page's login cookie or ``Authorization: Bearer <token>``; else 401 and one sentence."""

    def __init__(self, app, token: str | None = None):
        self.app = app
        self.token = token or None

    async def __call__(self, scope, receive, send):
        server = scope.get("app")  # the Gradio app this is mounted on (Starlette sets it before routing)
        if scope["type"] != "http" or getattr(server, "auth", None) is None:
            return await self.app(scope, receive, send)
        request = Request(scope)
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        cookie_id = getattr(server, "cookie_id", "")
        cookie = request.cookies.get(f"access-token-{cookie_id}") or request.cookies.get(
            f"access-token-unsecure-{cookie_id}"
        )
        if cookie and cookie in getattr(server, "tokens", {}):
            return await self.app(scope, receive, send)
        if scheme.lower() == "bearer" and given:
            if self.token and hmac.compare_digest(given.strip().encode(), self.token.encode()):
                return await self.app(scope, receive, send)
            sentence = (
                "The API token is wrong; send Authorization: Bearer <the server's $ASSISTANT_API_TOKEN>."
                if self.token
                else "This server takes no API tokens; start it with $ASSISTANT_API_TOKEN set, or log in on the page."
            )
        else:
            sentence = "Log in first: send Authorization: Bearer <token> (the server's $ASSISTANT_API_TOKEN) or the page's login cookie."
        logger.info("Refused %s %s (401): %s", scope.get("method"), scope.get("path"), sentence)
        await JSONResponse({"error": sentence}, status_code=401, headers={"WWW-Authenticate": "Bearer"})(
            scope, receive, send
        )


def mounted(kbs: KnowledgeBases | Sequence[Assistant], *, token: str | None = None) -> Mount:
    """The REST app over ``kbs`` (the first is ``default``; assistants are named after their folders) at
    ``/api/v1`` behind :class:`Login`, for ``launch``'s ``app_kwargs={"routes": [...]}``."""
    kbs = kbs if isinstance(kbs, KnowledgeBases) else KnowledgeBases.of(kbs)
    return Mount(PREFIX, app=Login(build_rest(kbs), token))
