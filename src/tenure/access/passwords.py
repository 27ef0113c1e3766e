"""Password hashing with Argon2id (argon2-cffi, RFC 9106's parameters).

The hash string carries its own parameters, so a hash made with older ones
still verifies and is upgraded at the next login (:func:`needs_rehash`).

Each hash takes about 64 MiB and a core for a tenth of a second, so only
:func:`concurrency` of them run at once (by default half the cores); a
check that waits longer than ``WAIT`` seconds for its turn is refused with
:class:`~tenure.errors.ServerBusyError` (503 on the web). Many logins at
once then cost neither memory nor the cores that answer other requests.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from tenure.errors import InputError, MissingExtraError, ServerBusyError

MIN_LENGTH = 10
WAIT = 5.0  # seconds a hash waits for its turn before it is refused
_slots = threading.BoundedSemaphore(max(1, (os.cpu_count() or 2) // 2))


def concurrency(at_once: int) -> None:
    """Let ``at_once`` hashes run together (0: half the cores, at least one)."""
    global _slots
    _slots = threading.BoundedSemaphore(at_once or max(1, (os.cpu_count() or 2) // 2))


@contextmanager
def _turn() -> Iterator[None]:
    slots = _slots
    if not slots.acquire(timeout=WAIT):
        raise ServerBusyError(
            "the server is checking as many passwords as it can at once; try again shortly.",
            hint="Wait a few seconds and log in again.",
            retry_after=max(1, round(WAIT)),
        )
    try:
        yield
    finally:
        slots.release()


@lru_cache(maxsize=1)
def _hasher():
    try:
        from argon2 import PasswordHasher
    except ModuleNotFoundError as exc:
        raise MissingExtraError.for_extra("web", exc.name or "argon2-cffi") from None
    return PasswordHasher()


def check_strength(password: str) -> None:
    """Refuse a password too short to be one."""
    if len(password) < MIN_LENGTH:
        raise InputError(
            f"the password has {len(password)} characters; it needs {MIN_LENGTH} or more.",
            hint="Use a longer password, e.g. a few random words.",
            code="weak_password",
        )


def hash_password(password: str) -> str:
    check_strength(password)
    with _turn():
        return _hasher().hash(password)


def verify(stored: str, password: str) -> bool:
    """True when ``password`` matches the stored hash."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        with _turn():
            return _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher().check_needs_rehash(stored)


def burn(password: str) -> None:
    """Spend the time of a verification, for an unknown user: a wrong email
    then takes as long as a wrong password and does not tell which it was."""
    verify(_dummy_hash(), password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    with _turn():
        return _hasher().hash("not a password of anyone")
