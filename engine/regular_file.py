"""Open a file for reading only when it is a regular file, without ever blocking.

A user can name anything as a procedure, scenario, audit log or ``@payload``
file: a directory, a FIFO, a socket, ``/dev/zero``. Opening a FIFO with no
writer blocks for ever and reading ``/dev/zero`` never ends, so a plain
``open()`` would hang the command. Here the file is opened non-blocking, checked
with ``fstat`` on the descriptor itself (no window between check and use), and
refused with an ``OSError`` that says what it is; callers that already turn
``OSError`` into one located line need no other change.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from typing import BinaryIO

from engine.errors import NotRegularFile as NotRegularFile

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file.

    Args:
        path: the file to read.

    Returns:
        A blocking binary reader positioned at the start.

    Raises:
        FileNotFoundError: nothing is there.
        IsADirectoryError: it is a directory.
        NotRegularFile: it is a FIFO, socket or device (its ``strerror`` says which).
        OSError: any other reason it cannot be opened (permissions, …).
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", os.fspath(path))
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            raise NotRegularFile(errno.EINVAL, f"{kind}, not a regular file", os.fspath(path))
        # Regular files never block; clear the flag so reads behave as usual.
        flags = fcntl.fcntl(descriptor, fcntl.F_GETFL)
        fcntl.fcntl(descriptor, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_regular(path: str | os.PathLike[str], limit: int | None = None) -> bytes:
    """The bytes of a regular file, reading at most ``limit + 1`` of them.

    Reading one byte past the limit lets the caller say "too big" without
    loading a file of any size into memory.

    Raises:
        OSError: as ``open_regular``, or a read error.
    """
    with open_regular(path) as handle:
        return handle.read() if limit is None else handle.read(limit + 1)


__all__ = ["NotRegularFile", "open_regular", "read_regular"]
