"""Guess how a text file is written: encoding, delimiter, quoting.

Only the first block of the file is read here; the file itself is parsed
by DuckDB.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

SAMPLE_BYTES = 256 * 1024
DELIMITERS = [",", ";", "\t", "|"]
# runs of spaces (and tabs) between fields, as in fixed-width exports
WHITESPACE = " "
WHITESPACE_NAMES = {" ", "space", "spaces", "whitespace", "\\s+"}
# single-byte code pages tried for text that is not UTF-8, most common first:
# a tie in plausibility goes to the earlier one
PREFERRED = ("cp1252", "latin_1", "iso8859_15", "cp1250", "cp1257", "iso8859_2")
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
        if _only_junk_lines_fail(sample):
            return "utf-8"
    return most_plausible(sample)


CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def _only_junk_lines_fail(sample: bytes) -> bool:
    """True when every line that is not UTF-8 holds control bytes too: binary
    junk in a UTF-8 file, rejected line by line, not a sign of another
    encoding."""
    failing = 0
    for line in sample.split(b"\n")[:-1]:  # the last line may be cut
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            failing += 1
            if not CONTROL.search(line.decode("latin-1")):
                return False
    return failing > 0


def looks_binary(sample: bytes) -> bool:
    """Most lines hold control bytes: not a text file with a few bad lines."""
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    lines = [line for line in sample.split(b"\n") if line.strip()]
    junk = sum(1 for line in lines if CONTROL.search(line.decode("latin-1")))
    return junk > len(lines) / 2


def _canonical(name: str) -> str:
    name = name.lower().replace("-", "_")
    return {"windows_1252": "cp1252", "iso8859_1": "latin_1", "iso_8859_1": "latin_1"}.get(
        name, name
    )


def most_plausible(sample: bytes) -> str:
    """The encoding under which ``sample`` reads most plausibly.

    charset-normalizer scores each candidate by how messy its decoding is
    (chaos) and how much it looks like a language (coherence). Western
    names such as Zoë, Anaïs and Søren read equally well in cp1252, cp1250
    and cp1257 by those scores, and charset-normalizer's own pick among
    equals was cp1250, which turns ï into ď and ø into ř. Equals are settled
    here by how common the code page is in exports (``PREFERRED``).
    """
    from charset_normalizer import from_bytes

    def rank(name: str) -> int:
        return PREFERRED.index(name) if name in PREFERRED else len(PREFERRED)

    matches = [(m, _canonical(m.encoding)) for m in from_bytes(sample)]
    if not matches:
        try:
            sample.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            return "latin-1"
    best, name = min(
        matches, key=lambda mn: (round(mn[0].chaos, 2), -round(mn[0].coherence, 2), rank(mn[1]))
    )
    # cp1252 is a superset of latin-1 for the printable range that exports use
    if name == "latin_1":
        try:
            sample.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            return "latin-1"
    return name


def detect_delimiter(text: str) -> str:
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if not lines:
        return ","
    if not any(d in line for line in lines for d in DELIMITERS) and _split_by_spaces(lines):
        return WHITESPACE
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


def _split_by_spaces(lines: list[str]) -> bool:
    """Most lines split on runs of spaces into the same number (2 or more) of fields."""
    counts = [len(line.split()) for line in lines]
    common = max(set(counts), key=counts.count)
    return common >= 2 and counts.count(common) >= 0.8 * len(counts)


def sniff(path: Path, encoding: str | None = None, delimiter: str | None = None) -> Dialect:
    with open(path, "rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    bom = sample.startswith(b"\xef\xbb\xbf")
    if bom:
        sample = sample[3:]
    enc = encoding or detect_encoding(sample)
    text = sample.decode(_python_codec(enc), errors="replace")
    if delimiter is not None and delimiter.lower() in WHITESPACE_NAMES:
        delimiter = WHITESPACE
    if delimiter in ("\\t", "tab"):
        delimiter = "\t"
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


# the columns the readers add to every row of a file
RESERVED = {"_line", "_rec", "_text"}


def unique_names(names: list[str]) -> list[str]:
    """Column names made usable: blanks named by position, repeats numbered."""
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        name = name or f"column{i + 1}"
        if name in RESERVED:
            name = f"{name}_src"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        out.append(name)
    return out
