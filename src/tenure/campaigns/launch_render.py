"""Rendering a launch's messages, in worker processes when there are cores.

Rendering (Jinja in its sandbox, Babel's formats) is most of a large
launch's time: about 40 µs a message, where writing it costs about 30. A
:class:`Renderer` with ``workers`` > 1 renders each batch in that many
processes (forked before the launch opens its stores, so they hold nothing
but the template); the launch process reads the batch before and writes it
after. The messages are the same either way: each worker loads the same
template folder.

A message that fails to render (a variable the template uses and the
customer lacks) is rendered again in the launch process, so that the error
raised is the template's own, with its file, line and variable.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

from tenure.campaigns.templates import Rendered, Template, load_template
from tenure.errors import TenureError

# the most processes a launch renders in; each costs its start and memory
MAX_WORKERS = 8
# messages sent to a worker at once
CHUNK = 250

_TEMPLATE: Template | None = None


def _init(folder: str) -> None:
    global _TEMPLATE
    _TEMPLATE = load_template(Path(folder))


def _render(contexts: list[dict[str, Any]]) -> list[Rendered | None]:
    assert _TEMPLATE is not None
    out: list[Rendered | None] = []
    for context in contexts:
        try:
            out.append(_TEMPLATE.render(context, context["locale"]))
        except TenureError:  # raised again, whole, by the launch process
            out.append(None)
    return out


def default_workers() -> int:
    """One worker per core beyond the launch's own, at most :data:`MAX_WORKERS`;
    1 (render in the launch process) on two cores or fewer."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_WORKERS, (cores or 1) - 1)) if (cores or 1) > 2 else 1


class Renderer:
    """Renders contexts with ``template``, in ``workers`` processes when > 1."""

    def __init__(self, template: Template, folder: str | Path, workers: int = 1) -> None:
        self.template = template
        self.pool = None
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            self.pool = multiprocessing.get_context("fork").Pool(
                workers, initializer=_init, initargs=(str(folder),))

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()

    def render(self, contexts: list[dict[str, Any]]) -> list[Rendered]:
        if self.pool is None or len(contexts) <= CHUNK:
            return [self.template.render(c, c["locale"]) for c in contexts]
        chunks = [contexts[i:i + CHUNK] for i in range(0, len(contexts), CHUNK)]
        out: list[Rendered] = []
        for chunk, rendered in zip(chunks, self.pool.map(_render, chunks), strict=True):
            for context, message in zip(chunk, rendered, strict=True):
                out.append(message if message is not None
                           else self.template.render(context, context["locale"]))  # fmt: skip
        return out
