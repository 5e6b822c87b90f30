"""Importing WeasyPrint without starting a compiler for every library name it tries.

WeasyPrint loads gobject, pango, pangoft2, HarfBuzz (and its subsetter) and fontconfig
through cffi when it is imported, trying each library under six names (the Linux, macOS
and Windows spellings). cffi asks ``ctypes.util.find_library`` about every name it cannot
open as given, and on Linux that runs ``ldconfig -p`` and, for a name ldconfig does not
know, gcc and ld: 22 ldconfig, 16 gcc and 16 ld processes, over a second of CPU and
several seconds of waiting on a busy machine before the first PDF.

On Linux, ``import_weasyprint`` imports it while ``find_library`` answers from one
reading of ldconfig's cache and of the directories named in ``LD_LIBRARY_PATH``. What
ctypes' search adds through gcc and ld is a library's soname, which the dynamic linker
then loads from those same places or its default directories; WeasyPrint tries every
library under its full soname too (``libpango-1.0.so.0``), which cffi hands to the
linker directly. So every library that loaded before still loads. Elsewhere (macOS,
Windows) WeasyPrint is imported as it is.
"""

from __future__ import annotations

import ctypes.util
import importlib
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

_ABI = {"x86_64": "libc6,x86-64", "ppc64": "libc6,64bit", "sparc64": "libc6,64bit",
        "s390x": "libc6,64bit", "ia64": "libc6,IA-64"}  # fmt: skip
"""ldconfig's name for this machine's 64-bit ABI, as ctypes.util matches it."""
_IMPORTING = threading.Lock()


def ldconfig_cache() -> bytes:
    """``ldconfig -p``: every library in the dynamic linker's cache (empty if it cannot run)."""
    try:
        found = subprocess.run(
            ["/sbin/ldconfig", "-p"],
            stdin=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            env={"LC_ALL": "C", "LANG": "C"},
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return b""
    return found.stdout


def library_finder(cache: bytes, search_path: str) -> Callable[[str], str | None]:
    """A ``find_library`` answering from ``cache`` (ldconfig's listing) and then the
    directories of ``search_path`` (``LD_LIBRARY_PATH``'s form), never running a program.

    A name is looked up as ctypes.util looks it up: ``lib<name>.`` in the cache, for
    this machine's ABI, gives the library's soname; in a directory, a file
    ``lib<name>.so`` or ``lib<name>.so.<version>`` gives its path.
    """
    abi = _ABI.get(os.uname().machine, "libc6")
    directories = [Path(d) for d in search_path.split(os.pathsep) if d]

    def find(name: str) -> str | None:
        listed = re.search(
            rb"\s+(lib%s\.[^\s]+)\s+\(%s" % (re.escape(os.fsencode(name)), os.fsencode(abi)),
            cache,
        )
        if listed:
            return os.fsdecode(listed.group(1))
        pattern = re.compile("lib" + re.escape(name) + r"\.so(\.[0-9.]+)?")
        for directory in directories:
            try:
                names = sorted(entry.name for entry in os.scandir(directory))
            except OSError:
                continue
            for file in names:
                if pattern.fullmatch(file):
                    return str(directory / file)
        return None

    return find


@contextmanager
def _finding_with(find: Callable[[str], str | None]) -> Iterator[None]:
    """``ctypes.util.find_library`` is ``find`` meanwhile."""
    stock = ctypes.util.find_library
    setattr(ctypes.util, "find_library", find)  # noqa: B010 - its type is a def's
    try:
        yield
    finally:
        setattr(ctypes.util, "find_library", stock)  # noqa: B010


def import_weasyprint() -> ModuleType:
    """The ``weasyprint`` module, imported with the cached library search (see above).

    Raises:
        ImportError: WeasyPrint is not installed.
        OSError: a library it needs cannot be loaded.
    """
    with _IMPORTING:
        imported = sys.modules.get("weasyprint")
        if imported is not None:
            return imported
        if not sys.platform.startswith("linux"):
            return importlib.import_module("weasyprint")
        finder = library_finder(ldconfig_cache(), os.environ.get("LD_LIBRARY_PATH", ""))
        with _finding_with(finder):
            return importlib.import_module("weasyprint")
