"""Untrusted input, within bounds, and untrusted text, made safe to show: the one place that takes at most a
limit from an iterable, reads at most a limit from a file, and escapes what a terminal or a log would
interpret. The function, the trainer, the Python API, the client, the command line and the development
server all use these. Standard library only (the image holds it)."""

from __future__ import annotations

import errno
import itertools
import os
import stat
from collections.abc import Iterable
from typing import Final

SHOWN_MAX: Final = 200  # characters of untrusted text shown by default


def take[T](values: Iterable[T], limit: int) -> list[T]:
    """At most ``limit + 1`` items of ``values``: enough to tell that there are too many, never more (an
    endless iterator included), so refusing costs no more than the largest valid input."""
    return list(itertools.islice(values, limit + 1))


def read_file(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file at ``path``, or :class:`OSError` (its ``strerror`` says why in a few
    words). Bounded whatever sits there: opened without blocking (a FIFO would wait for a writer), refused
    unless it is a regular file (a device such as /dev/zero never ends), read no further than ``limit``."""
    if not os.fspath(path):  # os.open("") fails, but Path("") is "." (a directory): say what is wrong
        raise FileNotFoundError(errno.ENOENT, "an empty path names no file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except ValueError:  # a NUL in the path: no file has that name
        raise FileNotFoundError(errno.ENOENT, "no file can have this name") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file")
    with os.fdopen(fd, "rb") as file:
        data = file.read(limit + 1)
    if data is None:  # a "regular" file that would block (/proc/kmsg): O_NONBLOCK's read gives nothing
        raise OSError(errno.EAGAIN, "it has nothing to read without waiting")
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes")
    return data


def printable(text: str, limit: int = SHOWN_MAX) -> str:
    """``text`` safe for a terminal or a log line: every character that is not printable (control
    characters, escape sequences' ESC, lone surrogates) escaped as Python would write it, at most ``limit``
    characters. Costs O(limit), whatever the length of ``text``."""
    escaped = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text[: limit + 1]
    )
    return escaped if len(escaped) <= limit else f"{escaped[: limit - 1]}…"
