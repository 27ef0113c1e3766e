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
