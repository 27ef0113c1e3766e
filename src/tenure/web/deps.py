"""What a route may ask for, typed: the settings, the stores and their
lock, the caches and the caller. Routes take these as parameters instead
of reaching into ``request.app.state``, so what each one uses is in its
signature (and a test can see it).

>>> @router.get("/example")
... def example(settings: SettingsDep, who: Reader) -> dict: ...
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tenure.config import Settings
from tenure.store.ops import OpsStore
from tenure.web.cache import PageCache
from tenure.web.security import Principal, need, principal
from tenure.web.storelock import StoreLock


def settings(request: Request) -> Settings:
    """The settings of the store being served (the library reads with them)."""
    return request.app.state.settings


def ops(request: Request) -> OpsStore:
    """The operational store: users, keys, sessions, runs, goals."""
    return request.app.state.ops


def store_lock(request: Request) -> StoreLock:
    """Readers of the analytics store hold it shared; a reload, exclusive."""
    return request.app.state.store_lock


def answers(request: Request) -> PageCache:
    """The cache of JSON answers, bounded in bytes."""
    return request.app.state.answers


def currency(request: Request) -> str:
    """The reporting currency the pages show money in."""
    return request.app.state.currency


SettingsDep = Annotated[Settings, Depends(settings)]
OpsDep = Annotated[OpsStore, Depends(ops)]
StoreLockDep = Annotated[StoreLock, Depends(store_lock)]
CurrencyDep = Annotated[str, Depends(currency)]
# the caller, with the scope each kind of route needs
Caller = Annotated[Principal, Depends(principal)]
Reader = Annotated[Principal, Depends(need("read"))]
Writer = Annotated[Principal, Depends(need("write"))]
Admin = Annotated[Principal, Depends(need("admin"))]
