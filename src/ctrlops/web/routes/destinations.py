"""Destinations: list, add (the secret only ever goes in), Test Connection."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ctrlops.errors import CtrlopsError, InputError
from ctrlops.rclone.providers import PROVIDERS, DestinationSpec
from ctrlops.services import destinations
from ctrlops.web.render import field_errors, render

router = APIRouter()

FIELDS = ("name", "provider", "bucket", "region", "endpoint", "account_id", "access_key_id",
          "prefix", "secret")  # fmt: skip


@router.get("/destinations")
async def index(request: Request) -> Response:
    return render(request, "destinations.html", {"dests": destinations.list_all()})


@router.get("/destinations/new")
async def new(request: Request) -> Response:
    context = {"form": {}, "errors": {}, "providers": PROVIDERS}
    return render(request, "dest_new.html", context)


@router.post("/destinations")
async def add(request: Request) -> Response:
    raw = await request.form()
    secret = str(raw.get("secret") or "")
    # The secret is never echoed back into the form, even after an error.
    form = {k: str(v).strip() for k, v in raw.items() if k not in ("csrf_token", "secret")}
    try:
        spec = DestinationSpec(
            name=form.get("name", ""),
            provider=form.get("provider", ""),  # the model refuses an unknown one
            bucket=form.get("bucket", ""),
            region=form.get("region") or None,
            endpoint=form.get("endpoint") or None,
            account_id=form.get("account_id") or None,
            access_key_id=form.get("access_key_id", ""),
            prefix=form.get("prefix", ""),
        )
        if not secret:
            raise InputError("secret_access_key", "must not be empty")
        destinations.add(spec, secret)
    except CtrlopsError as e:
        context = {"form": form, "errors": field_errors(e, FIELDS), "providers": PROVIDERS}
        return render(request, "dest_new.html", context, 422)
    return RedirectResponse("/destinations", status_code=303)


@router.post("/destinations/{name}/test")
async def test(request: Request, name: str, server: str) -> Response:
    result = (await destinations.test(name, server)).as_dict()
    context = {"result": result, "dest": name, "server": server}
    return render(request, "partials/test_result.html", context)
