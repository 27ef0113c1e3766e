"""Quoting for the SQL that tenure writes: identifiers and string literals."""

from __future__ import annotations


def q(name: str) -> str:
    """A double-quoted SQL identifier, inner double quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def lit(text: object) -> str:
    """A single-quoted SQL string literal, inner single quotes doubled."""
    return "'" + str(text).replace("'", "''") + "'"
