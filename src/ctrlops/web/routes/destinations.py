"""Destinations: list, add (the secret only ever goes in), Test Connection."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from ctrlops.errors import CtrlopsError, InputError
from ctrlops.rclone.providers import PROVIDERS, DestinationSpec
from ctrlops.services import destinations
from ctrlops.web.render import field_errors, render

router = APIRouter()


class DestinationForm(BaseModel):
    """The add-destination form as posted: text only, so :class:`DestinationSpec` names a
    bad field. Declared so the app's OpenAPI schema describes it."""

    name: str = ""
    provider: str = ""  # the spec refuses one it does not know
    bucket: str = ""
    region: str = ""
    endpoint: str = ""
    account_id: str = ""
    access_key_id: str = ""
    prefix: str = ""
    secret: str = ""


FIELDS = tuple(DestinationForm.model_fields)


@router.get("/destinations")
async def index(request: Request) -> Response:
    return render(request, "destinations.html", {"dests": destinations.list_all()})


@router.get("/destinations/new")
async def new(request: Request) -> Response:
    context = {"form": {}, "errors": {}, "providers": PROVIDERS}
    return render(request, "dest_new.html", context)


@router.post("/destinations")
async def add(request: Request, posted: Annotated[DestinationForm, Form()]) -> Response:
    secret = posted.secret
    # The secret is never echoed back into the form, even after an error.
    form = {k: v.strip() for k, v in posted.model_dump(exclude={"secret"}).items()}
    try:
        spec = DestinationSpec(
            name=form.get("name", ""),
            provider=form.get("provider", ""),
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
