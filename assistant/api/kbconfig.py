"""Each knowledge base's own settings (``.assistant.toml`` in its folder), and opening several of them."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ..encoders import make_encoder
from ..errors import AssistantError, KnowledgeBaseError
from ..search import SearchSettings
from .assistant import Assistant
from .defaults import default_uploads
from .kbs import KBSpec, KnowledgeBases, unique_names
from .upgrade import Upgrade

SETTINGS_FILE = ".assistant.toml"  # hidden, so never indexed as a document
MAX_SETTINGS_BYTES = 4096
KEYS = ("top_k", "alpha", "threshold", "model")


@dataclass(frozen=True)
class KBSettings:
    """A knowledge base's own passages (``top_k``), balance (``alpha``), threshold and model; None: the
    command's flag, else the default."""

    top_k: int | None = None
    alpha: float | None = None
    threshold: float | None = None
    model: str | None = None

    def but(self, **flags) -> KBSettings:
        """These settings with each flag given (not None) in its place: the command line wins."""
        return KBSettings(**{k: flags.get(k) if flags.get(k) is not None else getattr(self, k) for k in KEYS})

    def to_dict(self) -> dict:
        return asdict(self)


def read_settings(folder: str | Path) -> KBSettings:
    """The settings in ``folder/.assistant.toml`` (none: all None), checked, one sentence per problem."""
    path = Path(folder) / SETTINGS_FILE
    if not path.is_file():
        return KBSettings()
    try:
        data = path.read_bytes()
        if len(data) > MAX_SETTINGS_BYTES:
            raise KnowledgeBaseError(f"{path} is over 4 KB; keep only the keys {', '.join(KEYS)} in it.")
        values = tomllib.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        reason = str(exc).splitlines()[0][:120]
        raise KnowledgeBaseError(f"{path} cannot be read as TOML ({reason}); fix it or remove it.") from None
    if unknown := sorted(set(values) - set(KEYS)):
        raise KnowledgeBaseError(f"{path} has the unknown key {unknown[0][:40]!r}; the keys are {', '.join(KEYS)}.")
    model = values.get("model")
    if model is not None and (not isinstance(model, str) or not model.strip() or len(model) > 500):
        raise KnowledgeBaseError(f"{path}: model must be a model's alias or folder, as --model takes.")
    try:
        SearchSettings().but(top_k=values.get("top_k"), alpha=values.get("alpha"), threshold=values.get("threshold"))
    except AssistantError as exc:
        raise KnowledgeBaseError(f"{path}: {exc}") from None
    return KBSettings(**{k: values.get(k) for k in KEYS})


def open_kbs(
    specs: Sequence[KBSpec],
    *,
    flags: dict | None = None,
    index_root: str | Path | None = None,
    uploads: str | Path | None = None,
    no_uploads: bool = False,
    fallback_model: str | None = None,
    upgrade: str | None = None,
    **kwargs,
) -> KnowledgeBases:
    """The knowledge bases ``specs`` describe, each with its folder's settings under the ``flags`` given
    (``top_k``, ``alpha``, ``threshold``, ``model``); ``uploads`` is the first one's uploads folder (the
    others have their own default), none with ``no_uploads``; ``fallback_model`` for those that name none, or
    else an ``Upgrade`` to the ``upgrade`` model (built later, in the background). Knowledge bases of one model
    share its encoder.
    """
    names = unique_names(specs)
    encoders: dict = {}
    kbs = {}
    for n, (name, spec) in enumerate(zip(names, specs, strict=True)):
        own = read_settings(spec.folder) if Path(spec.folder).is_dir() else KBSettings()
        chosen = own.but(**(flags or {}))
        chosen = chosen if chosen.model or not fallback_model else chosen.but(model=fallback_model)
        if chosen.model not in encoders:
            encoders[chosen.model] = make_encoder(chosen.model)
        folder = None if no_uploads else (uploads if n == 0 and uploads else default_uploads(spec.folder, index_root))
        kbs[name] = Assistant(
            spec.folder,
            encoder=encoders[chosen.model],
            index_root=index_root,
            uploads=folder,
            top_k=chosen.top_k,
            alpha=chosen.alpha,
            threshold=chosen.threshold,
            **kwargs,
        )
        if upgrade and not chosen.model:  # a knowledge base's own model (or the command's) stays as it is
            Upgrade(kbs[name], upgrade)
    return KnowledgeBases(kbs)
