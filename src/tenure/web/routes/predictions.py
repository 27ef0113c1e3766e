"""The predictions kept in the store, as ``tenure predict`` and ``tenure
fit`` left them:

================================  ==========================================
``GET /api/v1/predictions``       the kept scores: how they were made (model,
                                  horizon, discount rate, margin), their
                                  totals, their fits and the top customers
                                  by CLV, as ``tenure predict --json``
``GET /api/v1/predictions/fits``  every kept fit with its holdout check
================================  ==========================================

Nothing is fitted here: with nothing kept, the answer is a 404 that names
the command that keeps it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tenure.analysis.predictions import fits_document, kept_document, stored_predictions
from tenure.web.cache import kept_json
from tenure.web.deps import SettingsDep
from tenure.web.security import need

router = APIRouter(
    prefix="/api/v1/predictions", tags=["predictions"], dependencies=[Depends(need("read"))]
)


@router.get("")
async def predictions(
    request: Request, settings: SettingsDep, top: Annotated[int, Query(ge=0, le=1000)] = 10
) -> Response:
    """The kept scores with their totals and the ``top`` customers by CLV."""
    return await kept_json(
        request, ("predictions", top), lambda: kept_document(stored_predictions(settings), top)
    )


@router.get("/fits")
async def fits(request: Request, settings: SettingsDep) -> Response:
    """Every kept fit, oldest first, each with its holdout validation (null
    for a fit made without ``--calibration-end``)."""
    return await kept_json(
        request, ("prediction fits",), lambda: fits_document(stored_predictions(settings))
    )
