"""Compressed files and odd line ends: what a reader gets before it parses.

A file is compressed when its first bytes say so (gzip, bzip2, Zstandard),
whatever its name: browsers often save ``orders.csv.gz`` already unpacked,
and exports are sometimes compressed under a plain ``.csv`` name. The
content is unpacked into a temporary file next to the store, block by
block, and read from there.

Files whose lines end in a lone CR (old Mac exports) are rewritten with LF:
DuckDB's CSV reader would see one line.
"""

from __future__ import annotations

import bz2
import gzip
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from tenure.errors import InputError, MissingExtraError

BLOCK = 8 * 1024 * 1024
MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\x28\xb5\x2f\xfd": "zstd"}
SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd"}


def head(path: Path, n: int = 8) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def compression_of(path: Path) -> str | None:
    """gzip, bz2 or zstd by the file's first bytes; None for a plain file."""
    start = head(path)
    for magic, name in MAGIC.items():
        if start.startswith(magic):
            return name
    return None


def inner_name(path: Path) -> str:
    """The name without a compression suffix: ``orders.csv.gz`` -> ``orders.csv``."""
    name = path.name
    suffix = path.suffix.lower()
    return name[: -len(suffix)] if suffix in SUFFIXES else name


def _zstd_open(path: Path) -> IO[bytes]:
    try:
        import zstandard
    except ImportError:
        raise MissingExtraError(
            "this file is Zstandard-compressed, which needs the optional package 'zstandard'.",
            hint="Install it with: pip install 'tenure[zstd]', or unpack the file first "
            "(zstd -d FILE).",
            source=path.name,
            code="missing_extra",
        ) from None
    return zstandard.open(path, "rb")


OPENERS: dict[str, Callable[[Path], IO[bytes]]] = {
    "gzip": lambda p: gzip.open(p, "rb"),
    "bz2": lambda p: bz2.open(p, "rb"),
    "zstd": _zstd_open,
}


def temp_file(workdir: Path | None, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(suffix=suffix, dir=workdir)
    os.close(fd)
    return Path(name)


def decompress(path: Path, how: str, workdir: Path | None) -> Path:
    """The unpacked content in a temporary file (the caller removes it)."""
    target = temp_file(workdir, Path(inner_name(path)).suffix or ".txt")
    try:
        with OPENERS[how](path) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, BLOCK)
    except MissingExtraError:
        target.unlink(missing_ok=True)
        raise
    except (OSError, EOFError, ValueError) as exc:
        target.unlink(missing_ok=True)
        raise InputError(
            f"the {how} stream cannot be unpacked: {exc or type(exc).__name__}.",
            hint="The file is damaged or was cut short; export or download it again.",
            source=path.name,
            code="bad_compression",
        ) from None
    return target


def has_lone_cr(path: Path, sample: int = 256 * 1024) -> bool:
    """True when lines end in CR alone (no LF anywhere in the sample)."""
    with open(path, "rb") as fh:
        block = fh.read(sample)
    return b"\r" in block and b"\n" not in block


def cr_to_lf(path: Path, workdir: Path | None) -> Path:
    """A copy with every CR turned into LF (the caller removes it)."""
    target = temp_file(workdir, path.suffix or ".txt")
    with open(path, "rb") as src, open(target, "wb") as dst:
        while block := src.read(BLOCK):
            dst.write(block.replace(b"\r", b"\n"))
    return target
