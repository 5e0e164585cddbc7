"""The Milvus client side of the Milvus store: collections, batched writes, paged reads, searches, the manifest;
each failure told in one sentence. ``pymilvus`` is imported only here, when a store is opened."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MilvusStoreError
from ..records import Passage

logger = logging.getLogger(__name__)

URI_ENV = "ASSISTANT_MILVUS_URI"
TOKEN_ENV = "ASSISTANT_MILVUS_TOKEN"  # never a flag, never logged
BATCH = 500  # Milvus Lite's cost per insert grows faster than linearly above ~500 rows
TIMEOUT = 30.0  # seconds per call
CONNECT_TIMEOUT = 10.0  # seconds to reach the server (an unreachable address fails after this)
MANIFEST_CHUNK = 20_000  # characters per manifest row (a VARCHAR holds 65,535 bytes)
TEXT_FIELDS = {"doc_id": 4096, "source": 4096, "title": 4096, "text": 16384, "section": 4096, "sheet": 1024}
INT_FIELDS = ("paragraph", "part", "first_paragraph", "last_paragraph", "page", "slide", "row", "local_paragraph")


def collection_name(corpus: Path, model: str) -> str:
    """One collection per (corpus, model), named like ``index_folder``: letters, digits and underscores."""
    corpus = Path(corpus).resolve()
    key = hashlib.sha256(f"{corpus}\n{model}".encode("utf-8", "surrogateescape")).hexdigest()[:10]
    slug = re.sub(r"[^A-Za-z0-9_]+", "_", f"{corpus.name}_{Path(model).name}")[:60]
    return f"a_{slug}_{key}"


def check_uri(uri: str) -> tuple[str, str | None]:
    """(address, collection): ``x.db`` (Milvus Lite) or ``http(s)://host:port``, optionally ``#collection``."""
    address, _, name = uri.partition("#")
    if name and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,200}", name):
        raise MilvusStoreError(f"{name!r} cannot name a Milvus collection; use letters, digits and underscores.")
    if re.match(r"https?://[^/\s]+", address) or address.endswith(".db"):
        return address, name or None
    raise MilvusStoreError(
        f"{address!r} is not a Milvus address; give a local file ending in .db (Milvus Lite) or http://host:19530."
    )


def passage_id(p: Passage) -> str:
    """Stable per passage: the same file content gives the same ids, so a redone update adds no duplicate."""
    return hashlib.sha1(f"{p.source}\n{p.paragraph}\n{p.part}\n{p.text}".encode()).hexdigest()


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Names:
    """The three collections of one index."""

    passages: str

    @property
    def sentences(self) -> str:
        return self.passages + "_sentences"

    @property
    def manifest(self) -> str:
        return self.passages + "_manifest"


class MilvusStore:
    """One connection to Milvus; every call's failure becomes a ``MilvusStoreError`` that says what to do."""

    def __init__(self, uri: str, *, token: str | None = None, timeout: float = TIMEOUT):
        self.uri, self.timeout = uri, timeout
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:
            raise MilvusStoreError(
                "The Milvus store needs pymilvus; install it: pip install -r requirements-milvus.txt"
            ) from exc
        # Milvus Lite has no server-side timestamp for iterators: pymilvus warns on every read; nothing is wrong.
        logging.getLogger("pymilvus.orm.iterator").setLevel(logging.ERROR)
        if uri.endswith(".db"):
            Path(uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self.client = self._call(
            "connect",
            lambda: MilvusClient(
                uri=uri, token=token or os.environ.get(TOKEN_ENV, ""), timeout=min(timeout, CONNECT_TIMEOUT)
            ),
        )

    def _call(self, what: str, fn):
        """``fn()``, its failure told in one sentence (the token is never in it)."""
        import grpc
        from pymilvus.exceptions import MilvusException

        try:
            return fn()
        except (MilvusException, grpc.RpcError, OSError, RuntimeError) as exc:
            raise MilvusStoreError(self._explain(what, exc)) from exc

    def _explain(self, what: str, exc: Exception) -> str:
        text = str(getattr(exc, "message", "") or exc)
        low = text.lower()
        if any(w in low for w in ("auth", "credential", "password", "permission denied", "token")):
            return f"Milvus at {self.uri} refused the credentials; set ${TOKEN_ENV} to a valid token (user:password)."
        if what == "connect":
            return f"Milvus at {self.uri} cannot be reached; start it or check the address (--milvus or ${URI_ENV})."
        if "timeout" in low or "deadline" in low:
            return f"Milvus at {self.uri} did not answer in {self.timeout:g} s ({what}); check that it is running and retry."
        if what == "connect" or "connect" in low or "unavailable" in low:
            return f"Milvus at {self.uri} cannot be reached; start it or check the address (--milvus or ${URI_ENV})."
        return f"Milvus at {self.uri} failed to {what} ({text[:160]}); check the server's log and retry."

    @property
    def index_type(self) -> str:
        """AUTOINDEX on a server (it picks its index); FLAT on Milvus Lite (2.5 accepts FLAT, IVF_FLAT and AUTOINDEX),
        whose AUTOINDEX drops a large growing segment's raw vectors ("Growing segment loss raw data" when they
        are read back at 10k passages, measured); exact search there is what the local store does up to 50k."""
        return "FLAT" if self.uri.endswith(".db") else "AUTOINDEX"

    def close(self) -> None:
        self._call("close", self.client.close)

    def has(self, name: str) -> bool:
        return self._call("list collections", lambda: self.client.has_collection(name, timeout=self.timeout))

    def create(self, names: Names, dimension: int) -> None:
        """The passages, sentences and manifest collections, where missing."""
        from pymilvus import DataType, MilvusClient

        def schema(fields):
            s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            s.add_field("id", DataType.VARCHAR, is_primary=True, max_length=128)
            for name, kind, extra in fields:
                s.add_field(name, kind, **extra)
            return s

        vector = ("vector", DataType.FLOAT_VECTOR, {"dim": dimension})
        passage_fields = [vector, ("position", DataType.INT64, {})]
        passage_fields += [(n, DataType.VARCHAR, {"max_length": m}) for n, m in TEXT_FIELDS.items()]
        passage_fields += [(n, DataType.INT64, {}) for n in INT_FIELDS]
        sentence_fields = [vector, ("passage", DataType.VARCHAR, {"max_length": 64}), ("number", DataType.INT64, {})]
        manifest_fields = [
            ("vector", DataType.FLOAT_VECTOR, {"dim": 2}),  # Milvus wants a vector in every collection
            ("version", DataType.VARCHAR, {"max_length": 64}),
            ("part", DataType.INT64, {}),
            ("json", DataType.VARCHAR, {"max_length": 65535}),
        ]
        for name, fields in (
            (names.passages, passage_fields),
            (names.sentences, sentence_fields),
            (names.manifest, manifest_fields),
        ):
            if self.has(name):
                continue
            index = self.client.prepare_index_params()
            index.add_index("vector", index_type=self.index_type, metric_type="IP")
            self._call(
                "create a collection",
                lambda name=name, fields=fields, index=index: self.client.create_collection(
                    name, schema=schema(fields), index_params=index, consistency_level="Strong", timeout=self.timeout
                ),
            )

    def drop(self, names: Names) -> None:
        for name in (names.passages, names.sentences, names.manifest):
            if self.has(name):
                self._call("drop a collection", lambda name=name: self.client.drop_collection(name))

    def upsert(self, name: str, rows: list[dict]) -> None:
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            self._call("insert", lambda batch=batch: self.client.upsert(name, batch, timeout=self.timeout))

    def flush(self, name: str) -> None:
        """Seal what was written: Milvus Lite can lose a large growing segment's raw vectors to its interim
        index ("Growing segment loss raw data" when they are read back); sealed segments keep them."""
        self._call("flush", lambda: self.client.flush(name, timeout=self.timeout))

    def delete(self, name: str, expression: str) -> None:
        self._call("delete", lambda: self.client.delete(name, filter=expression, timeout=self.timeout))

    def rows(self, name: str, fields: list[str], expression: str = "") -> list[dict]:
        """Every row of ``name`` matching ``expression``, read in pages."""

        def read():
            it = self.client.query_iterator(
                name, batch_size=1000, filter=expression, output_fields=fields, timeout=self.timeout
            )
            out = []
            while page := it.next():
                out.extend(page)
            it.close()
            return out

        return self._call("read rows", read)

    def count(self, name: str) -> int:
        result = self._call(
            "count rows", lambda: self.client.query(name, filter="", output_fields=["count(*)"], timeout=self.timeout)
        )
        return int(result[0]["count(*)"])

    def search(self, name: str, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """The ``k`` nearest (id, inner product) per query vector."""
        data = np.ascontiguousarray(vectors, dtype=np.float32).tolist()
        found = self._call(
            "search",
            lambda: self.client.search(
                name, data=data, limit=k, output_fields=[], search_params={"metric_type": "IP"}, timeout=self.timeout
            ),
        )
        return [[(hit["id"], float(hit["distance"])) for hit in hits] for hits in found]

    def manifest(self, names: Names) -> dict | None:
        """The manifest the last finished build wrote (None: no build finished there)."""
        if not self.has(names.manifest):
            return None
        pointer = self.rows(names.manifest, ["json"], 'id == "current"')
        if not pointer:
            return None
        version = pointer[0]["json"]
        parts = self.rows(names.manifest, ["part", "json"], f"version == {quoted(version)}")
        return json.loads("".join(r["json"] for r in sorted(parts, key=lambda r: r["part"])))

    def write_manifest(self, names: Names, manifest: dict) -> None:
        """The new manifest's rows, then the pointer to them (the switch), then the old rows gone."""
        text = json.dumps(manifest, ensure_ascii=False)
        version = uuid.uuid4().hex
        chunks = [text[i : i + MANIFEST_CHUNK] for i in range(0, len(text), MANIFEST_CHUNK)] or [""]
        rows = [
            {"id": f"{version}/{i}", "vector": [1.0, 0.0], "version": version, "part": i, "json": c}
            for i, c in enumerate(chunks)
        ]
        self.upsert(names.manifest, rows)
        self.upsert(
            names.manifest, [{"id": "current", "vector": [1.0, 0.0], "version": "", "part": -1, "json": version}]
        )
        self.delete(names.manifest, f'id != "current" and version != {quoted(version)}')
