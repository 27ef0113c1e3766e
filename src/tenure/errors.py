"""Every error tenure raises on purpose.

::

    TenureError                      root: the CLI prints it and exits 1
    ├── UsageError (ValueError)      an argument or option value a command does not
    │                                take (unknown kind, model, period): exit 2
    ├── InputError (ValueError)      the data a user brought cannot be used
    │   ├── ColumnNotFoundError      a required column is not in the file
    │   ├── SchemaError              a file or table has the wrong shape or type
    │   ├── DuplicateError           the same key twice where only one may be
    │   └── TooManyErrorsError       more rejected rows than --max-errors allows
    ├── ConfigError                  settings, paths or store versions are wrong
    │   ├── StoreVersionError        the store was written by another schema
    │   └── NotFoundError            no such user, API key or customer (HTTP 404)
    ├── StoreBusyError               the store is being written just now; try again
    │                                after ``retry_after`` seconds (HTTP 503)
    ├── NotFittedError               a model was asked to predict before fit
    ├── ConvergenceError             a model fit did not converge
    ├── MissingExtraError (ImportError)  an optional install is needed
    ├── BackendNotSupportedError     the engine cannot run this on that backend
    ├── LedgerError                  a loyalty ledger write was refused
    │   ├── InsufficientPointsError  a redemption beyond the available points
    │   ├── IdempotencyKeyReusedError  a key sent again with another request (HTTP 422)
    │   └── IdempotencyConflictError   the same write arrived twice at once (HTTP 409)
    └── AccessError                  who asks may not do this
        ├── AuthenticationError      no credentials, or wrong ones (HTTP 401)
        ├── PermissionDeniedError    known, but without the role or scope (403)
        └── RateLimitedError         too many wrong passwords; wait (429)
            └── ServerBusyError      too many logins at once; wait (503)

Each error carries fields (``source``, ``row``, ``column``, ``value``,
``expected``, ``hint``, ``code``) and renders as *where → what → how to fix*::

    orders.csv line 17, column 'order_date': '31/02/2024' is not a date.
    Use YYYY-MM-DD or pass --date-format '%d/%m/%Y'.
"""

from __future__ import annotations

from typing import Any


class TenureError(Exception):
    """Root of every error tenure raises on purpose."""

    code = "tenure_error"
    exit_code = 1  # the CLI's exit status; 2 for usage errors

    def __init__(
        self,
        what: str,
        *,
        hint: str | None = None,
        source: str | None = None,
        row: int | None = None,
        column: str | None = None,
        value: Any = None,
        expected: str | None = None,
        code: str | None = None,
    ) -> None:
        self.what = what
        self.hint = hint
        self.source = source
        self.row = row
        self.column = column
        self.value = value
        self.expected = expected
        if code is not None:
            self.code = code
        super().__init__(self.render())

    @property
    def where(self) -> str:
        parts = []
        if self.source:
            parts.append(str(self.source))
        if self.row is not None:
            parts.append(f"line {self.row}")
        where = " ".join(parts)
        if self.column is not None:
            where = f"{where}, column '{self.column}'" if where else f"column '{self.column}'"
        return where

    def render(self) -> str:
        where = self.where
        text = f"{where}: {self.what}" if where else self.what
        if self.hint:
            text = f"{text}\n{self.hint}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The one JSON error shape used by the CLI's --json and the REST API."""
        return {
            "error": {
                "code": self.code,
                "message": self.what,
                "hint": self.hint,
                "source": self.source,
                "row": self.row,
                "column": self.column,
                "value": None if self.value is None else str(self.value),
                "expected": self.expected,
            }
        }


class UsageError(TenureError, ValueError):
    """A command was given an argument or option value it does not take."""

    code = "usage_error"
    exit_code = 2


class InputError(TenureError, ValueError):
    """The data a user brought cannot be used as it is."""

    code = "input_error"


class ColumnNotFoundError(InputError):
    code = "column_not_found"


class SchemaError(InputError):
    code = "schema_error"


class DuplicateError(InputError):
    code = "duplicate"


class TooManyErrorsError(InputError):
    code = "too_many_errors"


class ConfigError(TenureError):
    code = "config_error"


class StoreVersionError(ConfigError):
    code = "store_version"


class StoreBusyError(TenureError):
    """A wait for the store ran out: a commit, another writer or another
    program held it. Temporary, unlike a ConfigError."""

    code = "store_busy"

    def __init__(self, what: str, *, retry_after: int = 1, **fields: Any) -> None:
        self.retry_after = retry_after
        super().__init__(what, **fields)


class NotFittedError(TenureError):
    code = "not_fitted"


class ConvergenceError(TenureError):
    code = "convergence"


class MissingExtraError(TenureError, ImportError):
    code = "missing_extra"

    @classmethod
    def for_extra(cls, extra: str, module: str) -> MissingExtraError:
        return cls(
            f"this needs the optional package '{module}', which is not installed.",
            hint=f"Install it with: pip install 'tenure[{extra}]'",
        )


class BackendNotSupportedError(TenureError):
    code = "backend_not_supported"


class LedgerError(TenureError):
    code = "ledger"
    status = 400  # the REST API's status for it


class InsufficientPointsError(LedgerError):
    code = "insufficient_points"
    status = 409


class IdempotencyKeyReusedError(LedgerError):
    """An idempotency key came back with a request other than its first."""

    code = "idempotency_key_reused"
    status = 422


class IdempotencyConflictError(LedgerError):
    """Two writes with the same key or order line were posted at the same time;
    one of them was recorded, the other may be retried."""

    code = "idempotency_conflict"
    status = 409


class AccessError(TenureError):
    code = "access_denied"
    status = 403


class AuthenticationError(AccessError):
    code = "unauthenticated"
    status = 401


class PermissionDeniedError(AccessError):
    code = "forbidden"
    status = 403


class RateLimitedError(AccessError):
    code = "rate_limited"
    status = 429

    def __init__(self, what: str, *, retry_after: int, **fields: Any) -> None:
        self.retry_after = retry_after
        super().__init__(what, **fields)


class ServerBusyError(RateLimitedError):
    """The server does as much of something (checking passwords) as it
    will at once; the caller should try again after ``retry_after``."""

    code = "busy"
    status = 503


class NotFoundError(ConfigError):
    code = "not_found"
