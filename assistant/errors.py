"""The one exception family: every message says what went wrong and what to do."""


class AssistantError(Exception):
    """Base class for errors a user can act on; the CLI and UI show the message, never a traceback."""


class CorpusError(AssistantError):
    """The documents folder is missing, empty or unreadable."""


class ModelError(AssistantError):
    """The embedding model cannot be loaded."""


class IndexStoreError(AssistantError):
    """The saved index is missing, corrupt, or was built by another model."""


class IndexWriteError(IndexStoreError):
    """The index cannot be saved: its disk is full, or its folder is read-only or not writable."""


class QuestionError(AssistantError):
    """The question or a search setting is not usable."""


class UploadError(AssistantError):
    """An uploaded document is refused: its type, size or name is not acceptable."""
