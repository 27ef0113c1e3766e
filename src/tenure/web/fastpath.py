"""A repeated read answered before the router: the kept answer of the
same request, checked as the route would check it.

Under 50 readers of kept answers, FastAPI's work per request (matching
the route, solving its dependencies, validating its parameters) was most
of what the server did: some 0.4 ms of CPU a request, against a few
microseconds to find the answer. So when a route answers a ``GET`` with a
kept JSON answer of the store's current version (:func:`tenure.web.cache.kept_json`),
:class:`Memo` notes which answer it was under the request's path and
query, with the scopes the route checked (:func:`tenure.web.security.need`)
and the audit entry it records. The next ``GET`` of the same path and
query is answered by :class:`KeptAnswers` without the router when all of
these hold, and otherwise goes the full way, unchanged:

* the caller is known from memory under the access stamp read now
  (:func:`tenure.web.security.known_caller`): a key revoked or a user
  disabled, by this server or by the CLI, is refused on the next request,
  as on the full way;
* the caller has every scope the route checked;
* the store's version is the one of the answer, and the answer is still
  kept (the cache of answers stays bounded in bytes; the memo holds no
  answer of its own); or, after a commit, the new answer is being
  computed, and the request gets the one of the version before, marked
  ``X-Tenure-Stale``, as on the full way;
* the audit entry of the route (an export of customers) is committed
  first, as the route would.

The memo is keyed by what the client sent, but only after the route
accepted it, and it is bounded in entries and in the length of a key:
distinct junk parameters can push entries out, never grow the server.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from tenure.web.cache import _MISSING, STALE, data_version, wants_fresh

# entries at most, and the longest path and query that is kept
SIZE = 1024
LONGEST = 1024


@dataclass(frozen=True, slots=True)
class Entry:
    key: tuple  # the answer's key in the cache of answers: what it is, and the version
    needs: frozenset[str]  # the scopes the route checked
    audit: tuple[str, str | None, dict[str, Any] | None] | None  # (kind, target, detail)


class Memo:
    """Which kept answer a ``GET`` of a path and query had, lately."""

    def __init__(self, size: int = SIZE, longest: int = LONGEST) -> None:
        self._entries: OrderedDict[tuple[str, bytes], Entry] = OrderedDict()
        self._guard = threading.Lock()
        self.size = size
        self.longest = longest
        self.answered = 0  # requests answered here, for the tests

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, path: str, query: bytes) -> Entry | None:
        return self._entries.get((path, query))

    def keep(self, path: str, query: bytes, entry: Entry) -> None:
        if len(path) + len(query) > self.longest:
            return
        with self._guard:
            self._entries[(path, query)] = entry
            self._entries.move_to_end((path, query))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


def remember(
    request: Request, key: tuple, audit: tuple[str, str | None, dict[str, Any] | None] | None
) -> None:
    """Note that ``request`` (a ``GET``, answered 200 by a route that
    checked its scopes) had the kept answer under ``key``, and that its
    route recorded ``audit`` (kind, target, detail) for it."""
    if request.method != "GET":
        return
    needs = getattr(request.state, "needs", None)
    if not needs:  # a route that checked no scope is not answered here
        return
    memo: Memo = request.app.state.memo
    memo.keep(request.scope["path"], request.scope["query_string"], Entry(key, needs, audit))


class KeptAnswers:
    """:class:`Memo`'s answers, as a plain ASGI middleware (inside the one
    that adds the security headers, so its answers get them too)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        entry = state.memo.find(scope["path"], scope["query_string"])
        if entry is None:
            await self.app(scope, receive, send)
            return
        try:
            body = await _answer(scope, state, entry)
        except Exception:  # whatever went wrong, the full way says it properly
            body = None
        if body is None:
            await self.app(scope, receive, send)
            return
        state.memo.answered += 1
        data, stale = body
        # the headers of the route's Response, in its order
        headers = [(b"content-length", str(len(data)).encode()),
                   (b"content-type", b"application/json")]  # fmt: skip
        if stale:
            headers.insert(0, (STALE.lower().encode(), b"1"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": data})


async def _answer(scope: dict, state: Any, entry: Entry) -> tuple[bytes, bool] | None:
    """The kept answer of ``entry`` and whether it is of the version before
    the last commit, if the request may have it now; else None.

    After a commit, once a request has started the computation of the new
    answer on the full way (:func:`tenure.web.cache.kept`), the requests
    that come until it is done get the answer of the version before, marked
    stale, as they would there; a request that wants the store as it is
    now goes the full way and waits."""
    from tenure.web.audit import record_soon
    from tenure.web.security import known_caller

    request = Request(scope)
    stale = data_version(state.settings) != entry.key[-1]
    if stale:
        what = entry.key[:-1]
        flight = (id(state.answers), what)
        if wants_fresh(request) or not state.flights.running(flight):
            return None  # the full way starts the computation, or waits for it
        if state.flights.failed(flight):
            return None
        body = state.answers.previous(what)
    else:
        body = state.answers.peek(entry.key)
    if body is _MISSING:
        return None
    who = await known_caller(request)
    if who is None or not all(who.can(scope_) for scope_ in entry.needs):
        return None  # not known lately, or refused: the full way looks up and says why
    request.state.principal = who
    if entry.audit is not None:
        kind, target, detail = entry.audit
        await record_soon(request, kind, target=target, detail=detail)
    return body, stale
