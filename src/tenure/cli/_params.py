"""Options converted without pydantic.

Typer converts every option's value, given or not, through a pydantic
``TypeAdapter`` that it builds on first use: importing pydantic and
building a dozen adapters cost each command about a tenth of a second
before it starts its work, more than ``tenure segments`` spends on its
query at a million customers. The plain values tenure's options take (text,
a path, a flag, a whole number without bounds) are converted here as those
adapters convert them, and a whole number's text that is none (``ten``,
``1.5``) is refused with a message that names it (the adapter's says only
"Input should be a valid integer"); any other value or type goes to
Typer's own conversion, unchanged.

This hooks into how Typer's parameters make their conversion
(``get_runtime_param``, the ``type_descriptor`` and ``_runtime_param`` they
keep); where those are not there (another Typer), nothing is changed and
Typer converts everything itself.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_UNSET = object()
# a whole number as Typer's adapter reads one, sign included
_INTEGER = re.compile(r"[+-]?[0-9]+")


def _plain(annotation: Any, info: Any, value: Any, param: Any, ctx: Any) -> Any:
    """``value`` converted as Typer's adapter for ``annotation`` converts it,
    or ``_UNSET`` where that takes Typer's own conversion."""
    if annotation is str and isinstance(value, str):
        return value
    if annotation is bool and isinstance(value, bool):
        return value
    if annotation is int and info.min is None and info.max is None and not info.clamp:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.isascii() and value.isdigit():
            return int(value)
        if isinstance(value, str) and not _INTEGER.fullmatch(value.strip()):
            # Typer's adapter would say only "Input should be a valid integer"
            from typer import BadParameter

            raise BadParameter(f"{value!r} is not a whole number; give digits, e.g. 100.")
    if annotation is Path and info.path_type in (None, Path) and isinstance(value, str) and value:
        from typer._param_types import coerce_cli_path

        # a Path already, Typer checks it (exists, file or folder...) without pydantic
        return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
    return _UNSET


def _light_param_class() -> type | None:
    try:
        from dataclasses import dataclass

        from typer._coercion import RuntimeParam, build_runtime_param
    except ImportError:  # another Typer: it converts every option itself
        return None

    @dataclass(frozen=True)
    class LightParam(RuntimeParam):
        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            done = _plain(self.annotation, self.parameter_info, value, param, ctx)
            if done is not _UNSET:
                return done
            own = self.__dict__.get("_own")
            if own is None:
                own = build_runtime_param(param.type_descriptor)
                object.__setattr__(self, "_own", own)  # a frozen dataclass: kept aside
            return own._coerce_value(value, param=param, ctx=ctx)

    return LightParam


def lighten() -> None:
    """From now on in this process, convert the plain values of every
    command's options (the help option Typer adds to each included) by
    :func:`_plain`, the others by Typer."""
    light = _light_param_class()
    try:
        from typer.core import _TyperParameter
    except ImportError:
        return
    original = getattr(_TyperParameter, "get_runtime_param", None)
    if light is None or original is None or getattr(original, "_tenure_light", False):
        return

    def get_runtime_param(self: Any) -> Any:
        desc = getattr(self, "type_descriptor", None)
        if getattr(self, "_runtime_param", _UNSET) is None and desc is not None:
            # every type: a value not given is never converted, and one
            # not plain goes to Typer's conversion, built when first needed
            self._runtime_param = light(
                parameter_info=desc.parameter_info, annotation=desc.annotation
            )
        return original(self)

    get_runtime_param._tenure_light = True  # type: ignore[attr-defined]
    _TyperParameter.get_runtime_param = get_runtime_param
