"""Validated input for a server: the single source of truth for CLI and web forms."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from ctrlops.errors import InputError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# RFC 1123 labels; "_" is accepted because ~/.ssh/config aliases often use it.
HOST_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?$"
)
USER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$")
JUMP_RE = re.compile(r"^(?:(?P<user>[^@\s]+)@)?(?P<host>\[[^\]]+\]|[^:\s]+)(?::(?P<port>\d+))?$")


def check_name(value: str, field: str = "name") -> str:
    if not NAME_RE.match(value):
        raise ValueError(
            "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


def check_host(value: str) -> str:
    host = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not HOST_RE.match(host):
        raise ValueError("not a host name or IP address")
    return host


def check_user(value: str) -> str:
    if not USER_RE.match(value):
        raise ValueError("not a valid login name (letters, digits, '_', '.', '-')")
    return value


class ServerSpec(BaseModel):
    """A server to add: SSH (host, port, user, key, jump) or this machine (local)."""

    model_config = ConfigDict(frozen=True)

    name: str
    local: bool = False
    host: str | None = None
    port: int | None = None
    user: str | None = None
    key: str | None = None
    jump: str | None = None

    _name = field_validator("name")(check_name)

    @field_validator("host")
    @classmethod
    def _host(cls, v: str | None) -> str | None:
        return None if v is None else check_host(v)

    @field_validator("user")
    @classmethod
    def _user(cls, v: str | None) -> str | None:
        return None if v is None else check_user(v)

    @field_validator("port")
    @classmethod
    def _port(cls, v: int | None) -> int | None:
        if v is not None and not 1 <= v <= 65535:
            raise ValueError("must be between 1 and 65535")
        return v

    @field_validator("key")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            path = Path(v).expanduser()
        except RuntimeError:  # "~someone/..." for a user this machine does not have
            raise ValueError(f"no such user's home in {v}") from None
        if not path.is_file():
            raise ValueError(f"no such key file: {v}")
        return str(path.resolve())

    @field_validator("jump")
    @classmethod
    def _jump(cls, v: str | None) -> str | None:
        if v is None:
            return None
        m = JUMP_RE.match(v)
        if not m:
            raise ValueError("use [user@]host[:port]")
        check_host(m["host"])
        if m["user"]:
            check_user(m["user"])
        if m["port"] and not 1 <= int(m["port"]) <= 65535:
            raise ValueError("port must be between 1 and 65535")
        return v


def parse_spec(**fields: object) -> ServerSpec:
    """Return a validated :class:`ServerSpec`; raises InputError naming the first bad field."""
    ssh_fields = [f for f in ("host", "port", "user", "key", "jump") if fields.get(f)]
    if fields.get("local") and ssh_fields:
        raise InputError("--local", f"cannot be combined with --{ssh_fields[0]}")
    if not fields.get("local") and not fields.get("host"):
        raise InputError("--host", "give the server's host name or address (or --local)")
    try:
        return ServerSpec(**fields)
    except ValidationError as e:
        err = e.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "server"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise InputError(f"--{field}" if field != "name" else "name", msg) from None
