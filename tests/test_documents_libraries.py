"""Specification: WeasyPrint is imported with one reading of ldconfig's cache, finding the
libraries ctypes' own search finds (engine/documents/libraries.py).

ctypes' search runs ldconfig, gcc and ld for each of the ~30 names WeasyPrint tries;
the cached finder must answer exactly as it does for the libraries PDFs need and find a
library in an ``LD_LIBRARY_PATH`` directory, so that no system where PDFs worked loses them.
"""

from __future__ import annotations

import ctypes.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.documents.libraries import ldconfig_cache, library_finder

NEEDED = ("gobject-2.0", "pango-1.0", "pangoft2-1.0", "harfbuzz", "harfbuzz-subset", "fontconfig")
"""The libraries WeasyPrint loads, by the names under which ldconfig lists them."""

COUNT_PROGRAMS = """
import json, subprocess, sys
started = []
stock = subprocess.Popen.__init__
def counting(self, args, *rest, **kw):
    started.append(str(args[0] if isinstance(args, (list, tuple)) else args).rsplit("/", 1)[-1])
    stock(self, args, *rest, **kw)
subprocess.Popen.__init__ = counting
from engine.documents import libraries
module = libraries.import_weasyprint()
import weasyprint.text.ffi as ffi
print(json.dumps({"module": module.__name__, "started": started,
                  "subset": ffi.harfbuzz_subset is not None}))
"""


def _import_in_a_new_process() -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", COUNT_PROGRAMS],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_the_cached_finder_names_the_libraries_ctypes_finds() -> None:
    """Each library PDFs need: the same soname as ctypes.util.find_library gives."""
    find = library_finder(ldconfig_cache(), "")
    for name in NEEDED:
        assert find(name) == ctypes.util.find_library(name), name
        assert find(name) is not None, name


def test_a_name_nobody_lists_is_not_found() -> None:
    """A Windows spelling WeasyPrint tries is in no cache: None, as from ctypes' search."""
    find = library_finder(ldconfig_cache(), "")
    assert find("libgobject-2.0-0") is None
    assert ctypes.util.find_library("libgobject-2.0-0") is None


def test_a_library_in_an_ld_library_path_directory_is_found_by_its_path(tmp_path: Path) -> None:
    """Not in ldconfig's cache but in LD_LIBRARY_PATH: its path, versioned or not; other
    files of the directory (a near name, a static archive) are not taken for it."""
    (tmp_path / "libyishi-test.a").write_bytes(b"")
    (tmp_path / "libyishi-testing.so.1").write_bytes(b"")
    (tmp_path / "libyishi-test.so.3.1").write_bytes(b"")
    find = library_finder(b"", os.pathsep.join(["/nonexistent-yishi-dir", str(tmp_path)]))
    assert find("yishi-test") == str(tmp_path / "libyishi-test.so.3.1")
    assert find("yishi-tes") is None


@pytest.mark.subprocess
def test_weasyprint_is_imported_with_one_ldconfig_run_and_no_compiler() -> None:
    """A new process importing WeasyPrint starts ldconfig once, and neither gcc nor ld
    (ctypes' search started 22 ldconfig, 16 gcc and 16 ld processes)."""
    found = _import_in_a_new_process()
    assert found["module"] == "weasyprint"
    assert found["started"] == ["ldconfig"]
    assert found["subset"] is True
