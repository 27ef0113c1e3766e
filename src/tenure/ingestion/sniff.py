"""Guess how a text file is written: encoding, delimiter, quoting.

Only the first block of the file is read here; the file itself is parsed
by DuckDB.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

SAMPLE_BYTES = 256 * 1024
DELIMITERS = [",", ";", "\t", "|"]
# encodings DuckDB's CSV reader reads natively; others are transcoded first
NATIVE = {
    "utf-8": "utf-8",
    "utf_8": "utf-8",
    "ascii": "utf-8",
    "utf-16": "utf-16",
    "utf_16": "utf-16",
    "latin-1": "latin-1",
    "latin_1": "latin-1",
    "iso-8859-1": "latin-1",
    "iso8859_1": "latin-1",
}


@dataclass(frozen=True)
class Dialect:
    encoding: str
    delimiter: str
    bom: bool = False


def detect_encoding(sample: bytes) -> str:
    """UTF-8 when the sample decodes as UTF-8 (a cut at the end is allowed);
    UTF-16 with a BOM; otherwise charset-normalizer's best guess."""
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"
        # a mostly UTF-8 file with a few bad bytes stays UTF-8: the bad
        # lines are rejected with their reason instead of garbling the rest
        text = sample.decode("utf-8", errors="replace")
        bad = text.count("\ufffd")
        good = sum(1 for ch in text if ord(ch) > 127) - bad
        if good > 0 and bad <= max(2, len(sample) // 2000):
            return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        return "latin-1"
    name = best.encoding.lower()
    # cp1252 is a superset of latin-1 for the printable range that exports use
    return "cp1252" if name in {"latin_1", "iso8859_1", "windows_1252", "cp1252"} else name


def detect_delimiter(text: str) -> str:
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if not lines:
        return ","
    try:
        found = csv.Sniffer().sniff("\n".join(lines), delimiters="".join(DELIMITERS)).delimiter
        if found in DELIMITERS:
            return found
    except csv.Error:
        pass
    header = lines[0]
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def sniff(path: Path, encoding: str | None = None, delimiter: str | None = None) -> Dialect:
    with open(path, "rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    bom = sample.startswith(b"\xef\xbb\xbf")
    if bom:
        sample = sample[3:]
    enc = encoding or detect_encoding(sample)
    text = sample.decode(_python_codec(enc), errors="replace")
    return Dialect(enc, delimiter or detect_delimiter(text), bom)


def _python_codec(encoding: str) -> str:
    return "utf-16" if encoding == "utf-16" else encoding


def transcode_to_utf8(path: Path, encoding: str, target: Path) -> None:
    """Rewrite a file in UTF-8, block by block (never line by line)."""
    import codecs

    decoder = codecs.getincrementaldecoder(_python_codec(encoding))(errors="replace")
    with open(path, "rb") as src, open(target, "wb") as dst:
        while block := src.read(8 * 1024 * 1024):
            dst.write(decoder.decode(block).encode("utf-8"))
        dst.write(decoder.decode(b"", final=True).encode("utf-8"))
