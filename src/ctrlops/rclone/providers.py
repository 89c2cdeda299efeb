"""S3 provider presets: validate a destination and render it as an rclone remote.

:class:`DestinationSpec` is the single source of truth for what a destination may be.
Every refusal is an :class:`~ctrlops.errors.InputError` naming the field, raised while the
spec is built, i.e. before anything touches the network or the store.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)

from ctrlops.errors import InputError

Provider = Literal["aws", "r2", "b2", "wasabi", "minio", "spaces", "s3"]
PROVIDERS: tuple[str, ...] = get_args(Provider)

# rclone's ``provider =`` values (backend/s3/provider/*.yaml). rclone has no B2 preset for
# the S3 API, so B2 is "Other" with its regional endpoint.
RCLONE_PROVIDER: dict[str, str] = {
    "aws": "AWS",
    "r2": "Cloudflare",
    "b2": "Other",
    "wasabi": "Wasabi",
    "spaces": "DigitalOcean",
    "minio": "Minio",
    "s3": "Other",
}

# rclone forces virtual-host style for providers without a path-style quirk (AWS, Wasabi,
# DigitalOcean) whatever the config says; render the value it will actually use.
PATH_STYLE: dict[str, bool] = {
    "aws": False,
    "r2": True,
    "b2": True,
    "wasabi": False,
    "spaces": False,
    "minio": True,
    "s3": True,
}

# Known regions (rclone's presets plus the providers' newer ones); a typo fails here, not
# as a confusing signature or DNS error on the server.
AWS_REGIONS = frozenset(
    """
    us-east-1 us-east-2 us-west-1 us-west-2 ca-central-1 ca-west-1 mx-central-1
    eu-west-1 eu-west-2 eu-west-3 eu-north-1 eu-south-1 eu-south-2 eu-central-1 eu-central-2
    ap-east-1 ap-east-2 ap-south-1 ap-south-2 ap-southeast-1 ap-southeast-2 ap-southeast-3
    ap-southeast-4 ap-southeast-5 ap-southeast-7 ap-northeast-1 ap-northeast-2 ap-northeast-3
    sa-east-1 il-central-1 me-south-1 me-central-1 af-south-1
    cn-north-1 cn-northwest-1 us-gov-east-1 us-gov-west-1
    """.split()  # noqa: SIM905 (a table reads better than 37 quoted strings)
)
WASABI_REGIONS = frozenset(
    """
    us-east-1 us-east-2 us-central-1 us-west-1 us-west-2 ca-central-1
    eu-central-1 eu-central-2 eu-west-1 eu-west-2 eu-south-1
    ap-northeast-1 ap-northeast-2 ap-southeast-1 ap-southeast-2
    """.split()  # noqa: SIM905
)
SPACES_REGIONS = frozenset(
    "nyc3 ams3 sfo2 sfo3 sgp1 fra1 syd1 lon1 tor1 blr1 atl1".split()  # noqa: SIM905
)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_B2_REGION = re.compile(r"[a-z]{2}-[a-z]+-\d{3}")
_FREE_REGION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_ACCOUNT = re.compile(r"[0-9a-f]{32}")
_STRICT_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# Generic S3 servers (Ceph, older MinIO setups) and B2 accept upper case and underscores.
_LENIENT_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]")
_R2_HOST = re.compile(r"([0-9a-f]{32})(?:\.(?:eu|fedramp))?\.r2\.cloudflarestorage\.com")


def _ini_safe(field: str, value: str) -> str:
    """Return ``value`` if rclone's config parser reads it back unchanged.

    rclone's INI parser trims whitespace, strips backtick and triple-quote wrappers and
    expands ``%(key)s``; a newline would start a new key. Refuse all of these.
    """
    if not value:
        raise InputError(field, "must not be empty")
    if any(not ("!" <= c <= "~") for c in value):
        raise InputError(field, "must be printable ASCII without spaces or control characters")
    if value.startswith(("`", '"""')) or "%(" in value:
        raise InputError(field, 'must not start with ` or """ nor contain \'%(\'')
    return value


def _endpoint_host(field: str, value: str, *, need_scheme: bool) -> str:
    """Return the normalised URL ``value`` (scheme added for hosted providers)."""
    if "://" not in value:
        if need_scheme:
            raise InputError(field, "must be an http:// or https:// URL")
        value = "https://" + value
    _ini_safe(field, value)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(field, "must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise InputError(field, "must not carry credentials; use --access-key-id")
    if parts.query or parts.fragment or parts.path not in ("", "/"):
        raise InputError(field, "must be scheme://host[:port] only (put paths in --prefix)")
    try:
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        raise InputError(field, "has an invalid port") from None
    return f"{parts.scheme}://{parts.netloc}"


class DestinationSpec(BaseModel):
    """A validated destination; the secret is never part of it."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: str
    provider: Provider
    bucket: str
    region: str | None = None
    endpoint: str | None = None
    account_id: str | None = None
    access_key_id: str
    prefix: str = ""

    @model_validator(mode="wrap")
    @classmethod
    def _as_input_error(
        cls, data: Any, handler: ModelWrapValidatorHandler[DestinationSpec]
    ) -> DestinationSpec:
        # Type errors (unknown provider, missing field) become the same one-line refusal.
        try:
            return handler(data)
        except ValidationError as e:
            err = e.errors()[0]
            field = str(err["loc"][0]) if err["loc"] else "destination"
            if field == "provider":
                raise InputError(field, "must be one of " + ", ".join(PROVIDERS)) from None
            raise InputError(field, str(err["msg"]).lower()) from None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.fullmatch(v):
            raise InputError("name", "use 1-64 letters, digits, '.', '_' or '-'")
        return v

    @field_validator("access_key_id")
    @classmethod
    def _key(cls, v: str) -> str:
        return _ini_safe("access_key_id", v)

    @field_validator("region", "endpoint", "account_id")
    @classmethod
    def _empty_is_none(cls, v: str | None) -> str | None:
        return v or None

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in v):
            raise InputError("prefix", "must not contain newlines or control characters")
        if v.startswith("/"):
            raise InputError("prefix", "must not start with '/'")
        v = v.rstrip("/")
        if len(v) > 512:
            raise InputError("prefix", "must be at most 512 characters")
        if v and any(seg in ("", ".", "..") for seg in v.split("/")):
            raise InputError("prefix", "must not contain '..', '.' or empty path segments")
        return v

    @model_validator(mode="after")
    def _rules(self) -> DestinationSpec:
        _check_bucket(self.provider, self.bucket)
        if self.account_id is not None and self.provider != "r2":
            raise InputError("account_id", f"only applies to --provider r2, not {self.provider}")
        _CHECKS[self.provider](self)
        return self

    @property
    def effective_region(self) -> str:
        """The signing region rclone is given (derived where the provider fixes it)."""
        if self.provider == "r2":
            return "auto"
        if self.region:
            return self.region
        if self.provider in ("b2", "wasabi", "spaces") and self.endpoint:
            return _region_from_host(self.provider, urlsplit(self.endpoint).hostname or "")
        return "us-east-1" if self.provider != "spaces" else ""

    @property
    def effective_endpoint(self) -> str | None:
        """The endpoint URL rclone is given; ``None`` lets rclone pick AWS's own."""
        if self.endpoint:
            return self.endpoint
        region = self.effective_region
        if self.provider == "r2":
            return f"https://{self.account_id}.r2.cloudflarestorage.com"
        if self.provider == "b2":
            return f"https://s3.{region}.backblazeb2.com"
        if self.provider == "wasabi":
            return f"https://s3.{region}.wasabisys.com"
        if self.provider == "spaces":
            return f"https://{region}.digitaloceanspaces.com"
        return None

    @property
    def may_create_bucket(self) -> bool:
        """False where the usual key cannot create buckets (R2 object tokens)."""
        return self.provider != "r2"

    def remote_path(self, *parts: str) -> str:
        """Return ``dest:bucket[/prefix][/parts...]`` for the remote named ``dest``."""
        return "dest:" + "/".join(p for p in (self.bucket, self.prefix, *parts) if p)


def _check_bucket(provider: str, bucket: str) -> None:
    lenient = provider in ("b2", "s3")
    pattern = _LENIENT_BUCKET if lenient else _STRICT_BUCKET
    if not 3 <= len(bucket) <= 63:
        raise InputError("bucket", "must be 3-63 characters long")
    if provider == "b2" and len(bucket) < 6:
        raise InputError("bucket", "B2 bucket names are 6-63 characters long")
    if not pattern.fullmatch(bucket):
        allowed = "letters, digits" if lenient else "lower-case letters, digits"
        raise InputError("bucket", f"use {allowed}, '.' and '-'; start and end with either")
    if ".." in bucket or ".-" in bucket or "-." in bucket:
        raise InputError("bucket", "must not contain '..', '.-' or '-.'")
    try:
        ipaddress.IPv4Address(bucket)
    except ValueError:
        pass
    else:
        raise InputError("bucket", "must not look like an IP address")
    if provider == "aws" and (bucket.startswith("xn--") or bucket.endswith("-s3alias")):
        raise InputError("bucket", "AWS reserves the 'xn--' prefix and '-s3alias' suffix")


def _region_from_host(provider: str, host: str) -> str:
    patterns = {
        "b2": r"s3\.([a-z0-9-]+)\.backblazeb2\.com",
        "wasabi": r"s3(?:\.([a-z0-9-]+))?\.wasabisys\.com",
        "spaces": r"([a-z0-9]+)\.digitaloceanspaces\.com",
    }
    m = re.fullmatch(patterns[provider], host)
    if not m:
        return ""
    return m.group(1) or "us-east-1"  # Wasabi's bare s3.wasabisys.com is us-east-1


def _hosted(spec: DestinationSpec, known: frozenset[str] | None, example: str) -> None:
    """B2, Wasabi, Spaces: the endpoint follows the region; either may be given."""
    provider = spec.provider
    endpoint, region = None, spec.region
    if spec.endpoint:
        endpoint = _endpoint_host("endpoint", spec.endpoint, need_scheme=False)
        from_host = _region_from_host(provider, urlsplit(endpoint).hostname or "")
        if not from_host:
            raise InputError("endpoint", f"is not a {provider} endpoint (like {example})")
        if region and region != from_host:
            raise InputError("endpoint", f"is for region {from_host}, but --region is {region}")
        region = from_host
    if not region:
        raise InputError("region", f"is required for {provider} (or give --endpoint {example})")
    bad = not _B2_REGION.fullmatch(region) if known is None else region not in known
    if bad:
        hint = "like us-west-004" if known is None else "one of " + ", ".join(sorted(known))
        raise InputError("region", f"unknown {provider} region {region!r} ({hint})")
    _set(spec, "endpoint", endpoint)


def _check_aws(spec: DestinationSpec) -> None:
    if not spec.region:
        raise InputError("region", "is required for aws (e.g. us-east-1)")
    if spec.region not in AWS_REGIONS:
        raise InputError("region", f"unknown AWS region {spec.region!r}")
    if spec.endpoint:
        endpoint = _endpoint_host("endpoint", spec.endpoint, need_scheme=False)
        host = urlsplit(endpoint).hostname or ""
        if not host.endswith((".amazonaws.com", ".amazonaws.com.cn")):
            raise InputError("endpoint", "is not an AWS endpoint; use --provider s3 for others")
        named = {r for r in AWS_REGIONS if re.search(rf"(^|[.-]){r}([.]|$)", host)}
        if named and spec.region not in named:
            raise InputError(
                "endpoint", f"is for region {named.pop()}, but --region is {spec.region}"
            )
        _set(spec, "endpoint", endpoint)


def _check_r2(spec: DestinationSpec) -> None:
    if not spec.account_id:
        raise InputError("account_id", "is required for r2 (32 hex digits, in the R2 dashboard)")
    account = spec.account_id.lower()
    if not _ACCOUNT.fullmatch(account):
        raise InputError("account_id", "must be 32 hexadecimal digits")
    _set(spec, "account_id", account)
    if spec.region not in (None, "auto"):
        raise InputError("region", "R2 has one region, 'auto'; leave --region out")
    if spec.endpoint:
        endpoint = _endpoint_host("endpoint", spec.endpoint, need_scheme=False)
        m = _R2_HOST.fullmatch(urlsplit(endpoint).hostname or "")
        if not m or not endpoint.startswith("https://"):
            raise InputError("endpoint", "must be https://<account-id>.r2.cloudflarestorage.com")
        if m.group(1) != account:
            raise InputError("endpoint", "names a different account than --account-id")
        _set(spec, "endpoint", endpoint)


def _check_self_hosted(spec: DestinationSpec) -> None:
    if not spec.endpoint:
        raise InputError("endpoint", f"is required for {spec.provider} (e.g. http://host:9000)")
    _set(spec, "endpoint", _endpoint_host("endpoint", spec.endpoint, need_scheme=True))
    if spec.region and not _FREE_REGION.fullmatch(spec.region):
        raise InputError("region", "use letters, digits, '-' or '_'")


def _set(spec: DestinationSpec, field: str, value: str | None) -> None:
    # Normalisation inside validation of a frozen model: the instance is not yet visible
    # to anyone, so writing the field directly is safe.
    if value is not None:
        object.__setattr__(spec, field, value)


_CHECKS: dict[str, Callable[[DestinationSpec], None]] = {
    "aws": _check_aws,
    "r2": _check_r2,
    "b2": lambda s: _hosted(s, None, "s3.us-west-004.backblazeb2.com"),
    "wasabi": lambda s: _hosted(s, WASABI_REGIONS, "s3.eu-central-1.wasabisys.com"),
    "spaces": lambda s: _hosted(s, SPACES_REGIONS, "fra1.digitaloceanspaces.com"),
    "minio": _check_self_hosted,
    "s3": _check_self_hosted,
}


def rclone_config(spec: DestinationSpec, secret: str, remote_name: str = "dest") -> str:
    """Return the INI text of an rclone remote for ``spec``.

    The only place a secret is rendered; it belongs in a 0600 file, never on a command
    line. Raises :class:`InputError` when ``secret`` cannot be written to INI unchanged.
    """
    _ini_safe("secret_access_key", secret)
    if not _NAME.fullmatch(remote_name):
        raise InputError("remote_name", "use letters, digits, '.', '_' or '-'")
    lines = [
        f"[{remote_name}]",
        "type = s3",
        f"provider = {RCLONE_PROVIDER[spec.provider]}",
        f"access_key_id = {spec.access_key_id}",
        f"secret_access_key = {secret}",
    ]
    if spec.effective_region:
        lines.append(f"region = {spec.effective_region}")
    if spec.effective_endpoint:
        lines.append(f"endpoint = {spec.effective_endpoint}")
    lines.append(f"force_path_style = {str(PATH_STYLE[spec.provider]).lower()}")
    if not spec.may_create_bucket:
        # R2 "Object Read & Write" tokens cannot create (or check) buckets; without this
        # every upload fails on rclone's bucket check.
        lines.append("no_check_bucket = true")
    return "\n".join(lines) + "\n"
