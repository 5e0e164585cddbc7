"""The one exception family: every message says what went wrong and what to do."""


class AssistantError(Exception):
    """Base class for errors a user can act on; the CLI and UI show the message, never a traceback."""


class CorpusError(AssistantError):
    """The documents folder is missing, empty or unreadable.

    ``wrong_folder`` marks a message that ends by asking for another folder: each front end adds how to
    give one (the CLI's ``index FOLDER`` or ``--corpus FOLDER``; ``Assistant(folder)`` in Python).
    """

    def __init__(self, message: str, *, wrong_folder: bool = False):
        super().__init__(message)
        self.wrong_folder = wrong_folder


class ModelError(AssistantError):
    """The embedding model cannot be loaded."""


class IndexStoreError(AssistantError):
    """The saved index is missing, corrupt, or was built by another model."""


class IndexWriteError(IndexStoreError):
    """The index cannot be saved: its disk is full, or its folder is read-only or not writable."""


class SettingsError(AssistantError):
    """An index or model setting is not usable (a dense index kind, a sentence-vector setting …)."""


class QuestionError(AssistantError):
    """The question or a search setting is not usable."""


class UploadError(AssistantError):
    """An uploaded document is refused: its type, size or name is not acceptable."""


class MilvusStoreError(IndexStoreError):
    """Milvus cannot be reached, refuses the token, times out, or holds a collection of another model."""


class KnowledgeBaseError(AssistantError):
    """A knowledge base's name, definition (``--kb NAME=FOLDER``) or settings file is not usable."""


class UnknownKnowledgeBase(KnowledgeBaseError):
    """A request names a knowledge base that the server or command does not have."""
