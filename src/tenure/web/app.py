"""The FastAPI app: ``create_app(settings)``.

The app keeps the operational store open (users, keys, sessions) and
reads the analytics store per request, read-only, through the same
functions as the CLI, so the numbers are the CLI's.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from tenure._version import __version__
from tenure.access import is_demo
from tenure.access.apikeys import KeyCache
from tenure.access.sessions import SessionCache
from tenure.config import Settings, load_settings
from tenure.errors import ConfigError
from tenure.web import errors, hardening, storelock
from tenure.web.audit import GroupCommit
from tenure.web.cache import PageCache
from tenure.web.fastpath import KeptAnswers, Memo
from tenure.web.flights import Flights
from tenure.web.routes import (
    admin,
    campaign_pages,
    campaigns,
    cohorts,
    consent,
    customers,
    dashboard,
    docs,
    goals,
    health,
    ingest,
    loyalty,
    loyalty_program,
    me,
    metrics,
    predictions,
    runs,
    segments,
    session,
)
from tenure.web.secret import server_secret
from tenure.web.stamp import StampReader
from tenure.web.storelock import StoreLock

SWITCH_INTERVAL = 0.001  # seconds


def settle() -> None:
    """Leave what the server holds after its start (modules, the app, the
    first answers) out of the collector's full passes from now on.

    A full pass of Python's cyclic collector walks every object it
    tracks: some 230,000 once the first answers are kept, 170 ms with the
    interpreter's lock held, during which no request is answered. The
    computations after a commit allocate enough to start such passes.
    Frozen, those objects are no longer walked (a pass then takes about a
    millisecond); they are still freed when no longer referenced, only a
    cycle among them would be kept."""
    import gc

    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings | None = None, *, demo: bool = False, warm: bool = True
) -> FastAPI:
    """The dashboard and the REST API over the store of ``settings``.

    ``demo=True`` is for a store made by ``tenure demo`` only: it shows
    the demo login. ``warm``
    computes the customer table, segment snapshots and Overview page in the
    background at startup.
    """
    from tenure.store.workspace import Workspace

    settings = settings or load_settings()
    ws = Workspace.open(settings, create=False)
    ops, settings = ws.ops, ws.settings
    try:
        if demo and not is_demo(ops):
            raise ConfigError(
                f"the store {settings.store} is not a demo store, so --demo is refused.",
                hint="Serve it without --demo.",
            )
        secret = server_secret(settings, demo=demo)
        from tenure.campaigns.consent_settings import SendingRules

        SendingRules.from_settings(settings)  # a wrong [campaigns] stops the start, not a send
    except BaseException:
        ops.close()
        raise

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from tenure.store import served

        # while this runs, writing commands beside it lower their priority
        release = served.hold(settings.store)
        import sys

        # the event loop gets the interpreter's lock back within 1 ms of
        # asking, not 5: after a commit, computations in worker threads
        # hold it most of the time, and each request the loop answers
        # waited for a turn of every one of them
        sys.setswitchinterval(SWITCH_INTERVAL)
        if warm:  # the first visitors do not wait for what can be computed now
            import threading
            from types import SimpleNamespace

            from tenure.web.dashboard import warm as prepare

            threading.Thread(
                target=prepare, args=(SimpleNamespace(app=app),), kwargs={"then": settle},
                daemon=True, name="warm-up",
            ).start()  # fmt: skip
        from tenure.loyalty.webhooks import background

        stop_webhooks = background(ops, settings)  # the loyalty webhooks' deliveries
        try:
            yield
        finally:
            stop_webhooks()
            release()
            app.state.stamp.close()
            ops.close()

    app = FastAPI(
        title="tenure",
        version=__version__,
        description="Retention numbers, predictions and customers of one tenure store.",
        openapi_url=None,  # served by routes.docs, behind a login
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.ops = ops
    app.state.secret = secret
    app.state.demo = demo
    storelock.configure()
    app.state.store_lock = StoreLock(settings.store)
    # tables, pages, documents; JSON bodies: bounded in bytes (docs/security.md)
    app.state.cache = PageCache(size=256, max_bytes=settings.cache_bytes, keep_large=True)
    app.state.answers = PageCache(size=4096, max_bytes=max(settings.cache_bytes // 16, 1))
    app.state.flights = Flights()  # one computation per answer at a time
    app.state.keys = KeyCache()
    app.state.stamp = StampReader(ops)
    app.state.audit = GroupCommit(ops)  # audit entries of requests, committed together
    app.state.sessions = SessionCache()
    app.state.currency = settings.reporting_currency or "EUR"
    app.state.memo = Memo()  # which kept answer a repeated GET had (tenure.web.fastpath)
    errors.install(app)
    app.add_middleware(KeptAnswers)  # inside the security headers, outside the router
    hardening.install(app)
    # one router per resource. A request is matched against the routes in
    # this order, each tried in turn: the loyalty writes, which tills send
    # at every sale, come first (behind the 19 routers, trying the others
    # cost a tenth of an earn's time); no path of one router is a path of
    # another, so the order changes nothing else
    routers = (
        loyalty, health, session, dashboard, me, metrics, cohorts, segments, goals, runs,
        predictions, customers, ingest, admin, docs, loyalty_program, consent, campaigns,
        campaign_pages,
    )  # fmt: skip
    for module in routers:
        app.include_router(module.router)
    app.include_router(dashboard.static)
    return app
