"""Specification: ``engine.regular_file`` reads regular files only, and never blocks.

Everything that reads a file a user names (procedures, scenarios, audit logs,
``@payload`` files) goes through it, so a FIFO without a writer or a device that
never ends is refused at once with an ``OSError`` that says what it is.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.regular_file import NotRegularFile, open_regular, read_regular


def test_a_regular_file_is_read_whole(tmp_path: Path) -> None:
    """Rule: a regular file's bytes come back unchanged."""
    path = tmp_path / "f.yaml"
    path.write_bytes(b"id: x\n\x00\xff")

    assert read_regular(path) == b"id: x\n\x00\xff"


def test_a_limit_reads_one_byte_past_it(tmp_path: Path) -> None:
    """Rule: with a limit, at most limit + 1 bytes are read, so "too big" is decidable
    without reading a file of any size; at the limit exactly, the whole file."""
    path = tmp_path / "f"
    path.write_bytes(b"x" * 10)

    assert len(read_regular(path, 9)) == 10
    assert len(read_regular(path, 10)) == 10
    assert len(read_regular(path, 100)) == 10


def test_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    """Rule: a FIFO with no writer is refused (opening it blocking would wait for ever)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    with pytest.raises(NotRegularFile) as caught:
        open_regular(fifo)

    assert caught.value.strerror == "a FIFO, not a regular file"
    assert caught.value.filename == str(fifo)


def test_a_device_is_refused() -> None:
    """Rule: a character device (``/dev/zero`` never ends) is refused."""
    with pytest.raises(NotRegularFile) as caught:
        read_regular("/dev/zero")

    assert caught.value.strerror == "a character device, not a regular file"


def test_a_directory_is_an_is_a_directory_error(tmp_path: Path) -> None:
    """Rule: a directory raises IsADirectoryError, which callers already name."""
    with pytest.raises(IsADirectoryError):
        read_regular(tmp_path)


def test_a_missing_file_is_file_not_found(tmp_path: Path) -> None:
    """Rule: nothing there raises FileNotFoundError, as ``open`` does."""
    with pytest.raises(FileNotFoundError):
        read_regular(tmp_path / "missing")


def test_no_descriptor_leaks_when_refusing(tmp_path: Path) -> None:
    """Rule: a refused file's descriptor is closed (a server reads many files)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    before = len(os.listdir("/proc/self/fd"))

    for _ in range(50):
        with pytest.raises(NotRegularFile):
            open_regular(fifo)

    assert len(os.listdir("/proc/self/fd")) == before
