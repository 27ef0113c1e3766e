"""The web dashboard and the REST API (FastAPI, the ``[web]`` extra).

>>> from tenure.web import create_app          # doctest: +SKIP
>>> app = create_app(load_settings(store="tenure-data"))  # doctest: +SKIP

``tenure serve`` runs it with Uvicorn.
"""

from __future__ import annotations

from typing import Any


def create_app(*args: Any, **kwargs: Any):
    """Build the app; see :func:`tenure.web.app.create_app`."""
    try:
        from tenure.web.app import create_app as build
    except ModuleNotFoundError as exc:
        from tenure.errors import MissingExtraError

        raise MissingExtraError.for_extra("web", exc.name or "fastapi") from None
    return build(*args, **kwargs)
