"""Password hashing with Argon2id (argon2-cffi, RFC 9106's parameters).

The hash string carries its own parameters, so a hash made with older ones
still verifies and is upgraded at the next login (:func:`needs_rehash`).
"""

from __future__ import annotations

from functools import lru_cache

from tenure.errors import InputError, MissingExtraError

MIN_LENGTH = 10


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
    return _hasher().hash(password)


def verify(stored: str, password: str) -> bool:
    """True when ``password`` matches the stored hash."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
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
    return _hasher().hash("not a password of anyone")
