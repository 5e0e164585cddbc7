"""Stage 6: the Python API that the CLI and the web chat both use."""

from .assistant import Assistant
from .defaults import CORPUS_ENV, default_corpus, default_uploads
from .filters import Filters, split_filters
from .kbconfig import SETTINGS_FILE, KBSettings, open_kbs, read_settings
from .kbs import ALL, DEFAULT, KBSpec, KnowledgeBases, check_name, folder_name, unique_names
from .upgrade import STRONG_MODEL, UPGRADE_ENV, Upgrade, upgrade_model
from .watch import Watcher, WatchSettings

__all__ = [
    "ALL",
    "Assistant",
    "CORPUS_ENV",
    "DEFAULT",
    "Filters",
    "KBSettings",
    "KBSpec",
    "KnowledgeBases",
    "SETTINGS_FILE",
    "STRONG_MODEL",
    "UPGRADE_ENV",
    "Upgrade",
    "WatchSettings",
    "Watcher",
    "check_name",
    "default_corpus",
    "default_uploads",
    "folder_name",
    "open_kbs",
    "read_settings",
    "split_filters",
    "unique_names",
    "upgrade_model",
]
