"""A retrieval assistant: ask a folder of documents in Chinese or English, get cited passages."""

from .errors import AssistantError

__version__ = "0.1.0"
__all__ = ["Assistant", "AssistantError"]


def __getattr__(name):
    # The API pulls in numpy and friends; keep ``import assistant`` cheap until it is used.
    if name == "Assistant":
        from .api.assistant import Assistant

        return Assistant
    raise AttributeError(name)
