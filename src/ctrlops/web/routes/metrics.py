"""``/metrics``: the fleet in Prometheus's text format, for a scraper with the token."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ctrlops.services import metrics

router = APIRouter()


@router.get("/metrics")
async def scrape(request: Request) -> Response:
    """Answer a logged-in browser, or a scraper sending ``Authorization: Bearer TOKEN``.

    The token lives 0600 in the data dir (``ctrlops serve`` prints its path); Prometheus
    reads it with ``authorization: {credentials_file: PATH}``.
    """
    sent = request.headers.get("authorization", "")
    scheme, _, given = sent.partition(" ")
    bearer = scheme.lower() == "bearer" and secrets.compare_digest(given, metrics.token())
    if not bearer and not isinstance(request.session.get("user"), str):
        return Response(
            "a valid bearer token is required\n",
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="ctrlops metrics"'},
            media_type="text/plain",
        )
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
