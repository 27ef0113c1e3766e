"""What a route may ask for, typed: the settings, the stores and their
lock, the caches and the caller. Routes take these as parameters instead
of reaching into ``request.app.state``, so what each one uses is in its
signature (and a test can see it).

Each is ``async``, though none waits for anything: FastAPI runs a plain
``def`` dependency in a worker thread, and the two or three such hops of
a request (the settings, the filters and their dates) were some 40 % of
the CPU a kept answer cost the server (1.07 ms against 0.64 ms for
``/api/v1/metrics``), and under a flood of logins it waited for the
threads the logins held.

>>> @router.get("/example")
... def example(settings: SettingsDep, who: Reader) -> dict: ...
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Query, Request

from tenure.access.apikeys import KeyCache
from tenure.analysis.filters import Filters
from tenure.config import Settings
from tenure.store.ops import OpsStore
from tenure.web.cache import PageCache
from tenure.web.security import Principal, need, principal
from tenure.web.storelock import StoreLock


async def settings(request: Request) -> Settings:
    """The settings of the store being served (the library reads with them)."""
    return request.app.state.settings


async def ops(request: Request) -> OpsStore:
    """The operational store: users, keys, sessions, runs, goals."""
    return request.app.state.ops


async def store_lock(request: Request) -> StoreLock:
    """Readers of the analytics store hold it shared; a reload, exclusive."""
    return request.app.state.store_lock


async def keys(request: Request) -> KeyCache:
    """The API keys seen lately, forgotten when one is revoked."""
    return request.app.state.keys


async def answers(request: Request) -> PageCache:
    """The cache of JSON answers, bounded in bytes."""
    return request.app.state.answers


async def currency(request: Request) -> str:
    """The reporting currency the pages show money in."""
    return request.app.state.currency


SettingsDep = Annotated[Settings, Depends(settings)]
OpsDep = Annotated[OpsStore, Depends(ops)]
StoreLockDep = Annotated[StoreLock, Depends(store_lock)]
KeysDep = Annotated[KeyCache, Depends(keys)]
CurrencyDep = Annotated[str, Depends(currency)]
# the caller, with the scope each kind of route needs
Caller = Annotated[Principal, Depends(principal)]
Reader = Annotated[Principal, Depends(need("read"))]
Writer = Annotated[Principal, Depends(need("write"))]
Admin = Annotated[Principal, Depends(need("admin"))]


DAY = r"^(\d{4}-\d{2}-\d{2})?$"  # YYYY-MM-DD, or empty


async def customer_filters(
    country: Annotated[
        str | None, Query(max_length=60, description="Only customers of this country (DE).")
    ] = None,
    channel: Annotated[
        str | None, Query(max_length=60, description="Only customers acquired through it.")
    ] = None,
    cohort: Annotated[
        str | None,
        # empty: a form's field left blank
        Query(pattern=r"^(\d{4}-\d{2})?$", description="Only customers first buying in YYYY-MM."),
    ] = None,
    segment: Annotated[
        str | None,
        Query(max_length=60, description="Only customers in this segment now (or rfm:SEGMENT)."),
    ] = None,
) -> Filters:
    """The customers a read is about (all when none is given). Each value is
    normalised (the filters ignore case) and the segment checked against
    the known ones (422 otherwise) before it is part of a cache's key."""
    from tenure.analysis.segments import BUSINESS_LABELS as LABELS
    from tenure.analysis.segments import RFM_SEGMENTS as SEGMENTS
    from tenure.errors import InputError

    country = country.strip().upper() if country else country
    channel = channel.strip().lower() if channel else channel
    if segment and segment.strip():
        segment = segment.strip().lower()
        if segment not in LABELS and segment.removeprefix("rfm:") not in SEGMENTS:
            raise InputError(
                f"the segment {segment!r} is not known.",
                hint=f"Use one of: {', '.join(LABELS)}; or rfm: and an RFM segment, e.g. "
                "rfm:champions.",
                source="query", column="segment", value=segment,
            )  # fmt: skip
    return Filters.of(dict(country=country, channel=channel, cohort=cohort, segment=segment))


async def filters(
    chosen: Annotated[Filters, Depends(customer_filters)],
    from_: Annotated[
        str | None,
        Query(alias="from", pattern=DAY, description="Only periods from this date on."),
    ] = None,
    to: Annotated[str | None, Query(pattern=DAY, description="End the data at this date.")] = None,
) -> Filters:
    """The customers and the dates a read is about (a date left blank in a
    form is no date)."""
    dates = Filters.of({"start": from_, "end": to})
    found = replace(chosen, start=dates.start, end=dates.end)
    found.check()
    return found


# what a read is about: the same filters as the CLI's --country ... --from --to
CustomerFilters = Annotated[Filters, Depends(customer_filters)]
FiltersDep = Annotated[Filters, Depends(filters)]
