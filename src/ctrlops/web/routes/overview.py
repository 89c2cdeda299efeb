"""The fleet overview: every server with its banners, every job with its indicator."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ctrlops.services import overview
from ctrlops.web.render import render

router = APIRouter()


@router.get("/")
async def fleet(request: Request, page: int = 1, show: str = "all") -> Response:
    """The overview: ``show`` all jobs, "problems" or "uncovered"; ``page`` of the table."""
    found = overview.fleet()
    return render(request, "overview.html", {"fleet": found, "page": found.page(page, show)})


@router.get("/overview/summary")
async def summary(request: Request) -> Response:
    return render(request, "partials/summary.html", {"fleet": overview.fleet()})
