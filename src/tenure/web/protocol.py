"""The server's HTTP/1.1 connections: Uvicorn's, with each answer sent in
one write.

Uvicorn writes a response's status line and headers as soon as the app
starts the response, and its body when the app sends it: two writes, so
two TCP segments, and on the client's side two wake-ups for one answer.
Under 50 readers on 2 cores, the first of the two writes was where the
server spent a third of its time: on a loopback connection the sender
does the receiver's work, and is the one preempted when the receiver
wakes. Here the head is held until the body follows (in the same turn
of the event loop, for every answer this app gives in one piece) and both
go in one write; a head whose body does not follow in that turn (a
streamed answer, a ``HEAD`` request) is sent at the end of the turn.
Nothing is reordered: whatever is written later goes after what is held.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class JoinedWrites:
    """A transport whose writes made in one turn of the event loop go to
    the socket together, in one write (see the module's text)."""

    __slots__ = ("_transport", "_held", "_loop")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._held: list[bytes] = []
        self._loop = loop

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(bytes(data))

    def flush(self) -> None:
        if self._held:
            held, self._held = self._held, []
            if self._transport.is_closing():
                return
            if len(held) == 1:
                self._transport.write(held[0])
            else:  # one system call for all (uvloop's, and asyncio's since 3.12)
                self._transport.writelines(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # the rest is the transport's own
        return getattr(self._transport, name)


class Protocol(HttpToolsProtocol):
    """Uvicorn's ``httptools`` protocol, with :class:`JoinedWrites` as the
    transport of each request's response."""

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = getattr(self, "cycle", None)
        if cycle is not None and not isinstance(cycle.transport, JoinedWrites):
            cycle.transport = JoinedWrites(self.transport, self.loop)

    def _flush(self) -> None:
        cycle = getattr(self, "cycle", None)
        if cycle is not None and isinstance(cycle.transport, JoinedWrites):
            cycle.transport.flush()

    # the connection closes here without the cycle: what it holds goes first
    def shutdown(self) -> None:
        self._flush()
        super().shutdown()

    def timeout_keep_alive_handler(self) -> None:
        self._flush()
        super().timeout_keep_alive_handler()
