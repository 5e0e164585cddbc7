"""Test-only entry point: ``python -m tests.fake_cli index|ask …`` is the real CLI with the fake encoder.

It starts in about a second (no torch), so tests can run the indexer as a separate process and
kill it, or pass it bytes that only a real command line carries. With ``FAKE_CLI_USER=nobody`` it
runs as that user, so that permissions are enforced even when the tests run as root; everything it
will need is loaded first (the interpreter and libraries live where that user may not read).
"""

import os
import sys

from assistant.cli import main
from assistant.encoders import set_encoder_factory

from .conftest import FakeEncoder


def _fake_encoder(name=None, **_):
    return FakeEncoder(name or "fake-bigrams")


def _become(user: str) -> None:
    import pwd

    import bm25s  # noqa: F401
    import faiss  # noqa: F401

    import assistant.api  # noqa: F401  (every module a command may import: that user cannot read them later)
    import assistant.search  # noqa: F401
    from assistant.encoders.blas import blas_libraries
    from assistant.keyword import KeywordIndex

    KeywordIndex.build(["预热 warm up"])  # loads jieba-rs's dictionary, the OpenCC tables and CC-CEDICT
    blas_libraries()  # threadpoolctl and the BLAS it finds
    entry = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)


if __name__ == "__main__":
    set_encoder_factory(_fake_encoder)
    if os.environ.get("FAKE_CLI_USER"):
        _become(os.environ["FAKE_CLI_USER"])
    sys.exit(main())
