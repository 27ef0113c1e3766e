"""Password hashing with Argon2id (argon2-cffi, RFC 9106's parameters).

The hash string carries its own parameters, so a hash made with older ones
still verifies and is upgraded at the next login (:func:`needs_rehash`).

Each hash takes about 64 MiB and a core for a tenth of a second, so only
:func:`concurrency` of them run at once (by default half the cores); a
check that waits longer than ``WAIT`` seconds for its turn is refused with
:class:`~tenure.errors.ServerBusyError` (503 on the web). On Linux the
hashes run in threads of lower priority (``nice`` 10; Argon2's own lanes
inherit it), so that a flood of logins leaves the cores to the answers a
server owes its users first. Many logins at once then cost neither memory
nor the cores that answer other requests.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from typing import TypeVar

from tenure.errors import InputError, MissingExtraError, ServerBusyError

T = TypeVar("T")
MIN_LENGTH = 10
WAIT = 5.0  # seconds a hash waits for its turn before it is refused
_slots = threading.BoundedSemaphore(max(1, (os.cpu_count() or 2) // 2))


def concurrency(at_once: int) -> None:
    """Let ``at_once`` hashes run together (0: half the cores, at least one)."""
    global _slots
    _slots = threading.BoundedSemaphore(at_once or max(1, (os.cpu_count() or 2) // 2))


_workers: ThreadPoolExecutor | None = None
_start = threading.Lock()
NICE = 10


def _lower_priority() -> None:
    if sys.platform == "linux":  # per thread on Linux only (elsewhere: the process)
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        except OSError:
            pass


def _hashed(work: Callable[[], T]) -> T:
    """``work()`` (a hash or a verification) in its turn, in a thread of
    lower priority."""
    global _workers
    with _turn():
        with _start:
            if _workers is None:
                _workers = ThreadPoolExecutor(
                    max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="password",
                    initializer=_lower_priority,
                )  # fmt: skip
        return _workers.submit(work).result()


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


def check_strength(password: str, email: str | None = None) -> None:
    """Refuse a password too short to be one, one of the common passwords
    that guessing starts with, or one made of the user's email. The message
    never repeats the password (it may be shown, logged or sent back)."""
    if len(password) < MIN_LENGTH:
        raise InputError(
            f"the password has {len(password)} characters; it needs {MIN_LENGTH} or more.",
            hint="Use a longer password, e.g. a few random words.",
            code="weak_password",
        )
    folded = password.casefold()
    if folded in common() or "".join(folded.split()) in common():
        raise InputError(
            "the password is one of the most common passwords, which are tried first.",
            hint="Use a few random words instead, e.g. from a password manager.",
            code="weak_password",
        )
    if email:
        email = email.casefold()
        local = email.split("@", 1)[0]
        # a local part of one or two letters is in too many good passwords to refuse them
        if email in folded or folded == local or (len(local) >= 3 and local in folded):
            raise InputError(
                "the password contains the user's email or its name part.",
                hint="Use a password that has nothing of the email in it.",
                code="weak_password",
            )


@lru_cache(maxsize=1)
def common() -> frozenset[str]:
    """The common passwords shipped with tenure (common_passwords.txt says
    where they come from), in lower case."""
    from importlib import resources

    text = (resources.files("tenure.access") / "common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line and not line.startswith("#")
    )


def hash_password(password: str, email: str | None = None, *, policy: bool = True) -> str:
    """The Argon2id hash of a password that passes :func:`check_strength`
    (``policy=False`` only for the demo's published login)."""
    if policy:
        check_strength(password, email)
    return _hashed(lambda: _hasher().hash(password))


def verify(stored: str, password: str) -> bool:
    """True when ``password`` matches the stored hash."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hashed(lambda: _hasher().verify(stored, password))
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
    return _hashed(lambda: _hasher().hash("not a password of anyone"))
