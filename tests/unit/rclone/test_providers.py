"""Provider presets: endpoint rules, refusals naming their field, rclone config rendering."""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctrlops.errors import InputError
from ctrlops.rclone import providers
from ctrlops.rclone.providers import DestinationSpec, rclone_config

ACCOUNT = "0123456789abcdef0123456789abcdef"
RCLONE = shutil.which("rclone", path=str(Path(sys.executable).parent))


def spec(**kw: Any) -> DestinationSpec:
    base: dict[str, Any] = {"name": "d", "bucket": "my-bucket", "access_key_id": "AKIAEXAMPLE"}
    return DestinationSpec(**{**base, **kw})


def ini(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return dict(parser["dest"])


@pytest.mark.parametrize(
    ("kw", "endpoint", "region"),
    [
        ({"provider": "aws", "region": "eu-west-1"}, None, "eu-west-1"),
        (
            {"provider": "aws", "region": "eu-west-1", "endpoint": "s3.eu-west-1.amazonaws.com"},
            "https://s3.eu-west-1.amazonaws.com",
            "eu-west-1",
        ),
        (
            {"provider": "r2", "account_id": ACCOUNT.upper()},
            f"https://{ACCOUNT}.r2.cloudflarestorage.com",
            "auto",
        ),
        (
            {"provider": "b2", "region": "us-west-004"},
            "https://s3.us-west-004.backblazeb2.com",
            "us-west-004",
        ),
        (
            {"provider": "b2", "endpoint": "https://s3.eu-central-003.backblazeb2.com"},
            "https://s3.eu-central-003.backblazeb2.com",
            "eu-central-003",
        ),
        (
            {"provider": "wasabi", "region": "eu-central-2"},
            "https://s3.eu-central-2.wasabisys.com",
            "eu-central-2",
        ),
        (
            {"provider": "wasabi", "endpoint": "s3.wasabisys.com"},
            "https://s3.wasabisys.com",
            "us-east-1",
        ),
        (
            {"provider": "spaces", "region": "fra1"},
            "https://fra1.digitaloceanspaces.com",
            "fra1",
        ),
        (
            {"provider": "minio", "endpoint": "http://10.0.0.5:9000/"},
            "http://10.0.0.5:9000",
            "us-east-1",
        ),
        (
            {"provider": "s3", "endpoint": "https://s3.example.net", "region": "garage"},
            "https://s3.example.net",
            "garage",
        ),
    ],
)
def test_it_derives_each_providers_endpoint_and_region(
    kw: dict[str, Any], endpoint: str | None, region: str
) -> None:
    s = spec(**kw)
    assert s.effective_endpoint == endpoint
    assert s.effective_region == region
    conf = ini(rclone_config(s, "secret"))
    assert conf.get("endpoint") == endpoint
    assert conf["region"] == region


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"provider": "dropbox"}, "provider"),
        ({"provider": "aws"}, "region"),
        ({"provider": "aws", "region": "eu-west-9"}, "region"),
        ({"provider": "aws", "region": "us-east-1", "account_id": ACCOUNT}, "account_id"),
        (
            {"provider": "aws", "region": "eu-west-1", "endpoint": "s3.us-east-2.amazonaws.com"},
            "endpoint",
        ),
        ({"provider": "aws", "region": "eu-west-1", "endpoint": "https://minio.lan"}, "endpoint"),
        ({"provider": "r2"}, "account_id"),
        ({"provider": "r2", "account_id": "xyz"}, "account_id"),
        ({"provider": "r2", "account_id": ACCOUNT, "region": "us-east-1"}, "region"),
        (
            {
                "provider": "r2",
                "account_id": ACCOUNT,
                "endpoint": "https://f.r2.cloudflarestorage.com",
            },
            "endpoint",
        ),
        ({"provider": "b2"}, "region"),
        ({"provider": "b2", "region": "us-west"}, "region"),
        (
            {
                "provider": "b2",
                "region": "us-west-004",
                "endpoint": "s3.us-west-002.backblazeb2.com",
            },
            "endpoint",
        ),
        ({"provider": "wasabi", "region": "mars-1"}, "region"),
        ({"provider": "wasabi", "endpoint": "s3.example.com"}, "endpoint"),
        ({"provider": "spaces", "region": "nyc9"}, "region"),
        (
            {"provider": "spaces", "region": "fra1", "endpoint": "ams3.digitaloceanspaces.com"},
            "endpoint",
        ),
        ({"provider": "minio"}, "endpoint"),
        ({"provider": "minio", "endpoint": "minio.lan:9000"}, "endpoint"),
        ({"provider": "s3", "endpoint": "ftp://h"}, "endpoint"),
        ({"provider": "s3", "endpoint": "https://user:pw@h"}, "endpoint"),
        ({"provider": "s3", "endpoint": "https://h/some/path"}, "endpoint"),
        ({"provider": "s3", "endpoint": "https://h?x=1"}, "endpoint"),
        ({"provider": "s3", "endpoint": "https://h", "region": "a b"}, "region"),
        ({"provider": "minio", "endpoint": "http://h", "bucket": "ab"}, "bucket"),
        ({"provider": "minio", "endpoint": "http://h", "bucket": "My-Bucket"}, "bucket"),
        ({"provider": "minio", "endpoint": "http://h", "bucket": "a..b"}, "bucket"),
        ({"provider": "minio", "endpoint": "http://h", "bucket": "192.168.1.1"}, "bucket"),
        ({"provider": "minio", "endpoint": "http://h", "bucket": "-abc"}, "bucket"),
        ({"provider": "aws", "region": "us-east-1", "bucket": "xn--abc"}, "bucket"),
        ({"provider": "b2", "region": "us-west-004", "bucket": "short"}, "bucket"),
        ({"provider": "minio", "endpoint": "http://h", "prefix": "/abs"}, "prefix"),
        ({"provider": "minio", "endpoint": "http://h", "prefix": "a/../b"}, "prefix"),
        ({"provider": "minio", "endpoint": "http://h", "prefix": "a\nb"}, "prefix"),
        ({"provider": "minio", "endpoint": "http://h", "prefix": "a//b"}, "prefix"),
        ({"provider": "minio", "endpoint": "http://h", "access_key_id": "a b"}, "access_key_id"),
        ({"provider": "minio", "endpoint": "http://h", "access_key_id": "%(x)s"}, "access_key_id"),
        ({"provider": "minio", "endpoint": "http://h", "name": "no spaces"}, "name"),
    ],
)
def test_it_refuses_bad_input_naming_the_field(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as e:
        spec(**kw)
    assert e.value.field == field
    assert e.value.exit_code == 2
    assert "\n" not in str(e.value)


def test_it_is_lenient_where_providers_are() -> None:
    assert spec(provider="s3", endpoint="http://h", bucket="Legacy_Bucket").bucket
    assert spec(provider="b2", region="us-west-004", bucket="Backups-2024").bucket
    assert spec(provider="minio", endpoint="http://h", prefix="a/b/").prefix == "a/b"


@pytest.mark.parametrize(
    ("provider", "rclone_provider", "path_style"),
    [
        ("aws", "AWS", "false"),
        ("r2", "Cloudflare", "true"),
        ("b2", "Other", "true"),
        ("wasabi", "Wasabi", "false"),
        ("spaces", "DigitalOcean", "false"),
        ("minio", "Minio", "true"),
        ("s3", "Other", "true"),
    ],
)
def test_it_maps_each_provider_to_rclone(
    provider: str, rclone_provider: str, path_style: str
) -> None:
    extra: dict[str, dict[str, str]] = {
        "aws": {"region": "us-east-1"},
        "r2": {"account_id": ACCOUNT},
        "b2": {"region": "us-west-004"},
        "wasabi": {"region": "us-east-1"},
        "spaces": {"region": "nyc3"},
        "minio": {"endpoint": "http://h:9000"},
        "s3": {"endpoint": "http://h:9000"},
    }
    conf = ini(rclone_config(spec(provider=provider, **extra[provider]), "s3cr3t"))
    assert conf["type"] == "s3"
    assert conf["provider"] == rclone_provider
    assert conf["force_path_style"] == path_style
    assert conf["access_key_id"] == "AKIAEXAMPLE"
    assert conf["secret_access_key"] == "s3cr3t"
    assert ("no_check_bucket" in conf) == (provider == "r2")


def test_it_renders_the_secret_only_in_its_own_line() -> None:
    text = rclone_config(spec(provider="minio", endpoint="http://h"), "TopSecret/+=", "job1")
    assert text.startswith("[job1]\n")
    assert [ln for ln in text.splitlines() if "TopSecret" in ln] == [
        "secret_access_key = TopSecret/+="
    ]
    assert "TopSecret" not in repr(spec(provider="minio", endpoint="http://h"))


@pytest.mark.parametrize("secret", ["", "has space", "line\nbreak", "`quoted`", "%(region)s"])
def test_it_refuses_a_secret_ini_would_change(secret: str) -> None:
    with pytest.raises(InputError) as e:
        rclone_config(spec(provider="minio", endpoint="http://h"), secret)
    assert e.value.field == "secret_access_key"


def test_it_knows_rclones_aws_regions() -> None:
    # rclone's own AWS preset regions must all be accepted.
    for region in ("us-east-1", "eu-south-1", "ap-east-1", "il-central-1", "us-gov-west-1"):
        assert region in providers.AWS_REGIONS


SHELLY = st.lists(
    st.sampled_from([*"abc-._/ ;|&$`'\"\\*?<>(){}[]!#~%\n\t\x00é", "--", "..", "$(id)"]),
    max_size=20,
).map("".join)


@given(bucket=SHELLY, prefix=SHELLY)
@settings(max_examples=300)
def test_it_refuses_or_renders_inert_shell_metacharacters(bucket: str, prefix: str) -> None:
    try:
        s = spec(provider="s3", endpoint="http://h", bucket=bucket, prefix=prefix)
    except InputError as e:
        assert e.field in ("bucket", "prefix")
        return
    # Accepted: the bucket is plain, the prefix is one argv element, the config has neither.
    assert set(s.bucket) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    assert "\n" not in s.prefix and "\x00" not in s.prefix
    assert s.remote_path("x") == "dest:" + "/".join(p for p in (s.bucket, s.prefix, "x") if p)
    conf = ini(rclone_config(s, "secret"))
    assert set(conf) == {"type", "provider", "access_key_id", "secret_access_key", "region",
                         "endpoint", "force_path_style"}  # fmt: skip


@pytest.mark.skipif(RCLONE is None, reason="rclone not installed in the venv")
@given(
    secret=st.text(min_size=1, max_size=24),
    key=st.text(
        alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=16
    ),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_it_renders_a_config_rclone_reads_back_verbatim(
    tmp_path_factory: pytest.TempPathFactory, secret: str, key: str
) -> None:
    try:
        s = spec(provider="minio", endpoint="http://127.0.0.1:9", access_key_id=key)
        text = rclone_config(s, secret)
    except InputError as e:
        assert e.field in ("access_key_id", "secret_access_key")
        return
    path = tmp_path_factory.mktemp("conf") / "rclone.conf"
    path.write_text(text)
    assert RCLONE
    out = subprocess.run(
        [RCLONE, "config", "dump", "--config", str(path)], capture_output=True, check=True
    )
    dumped = json.loads(out.stdout)
    assert list(dumped) == ["dest"]
    assert dumped["dest"]["secret_access_key"] == secret
    assert dumped["dest"]["access_key_id"] == s.access_key_id
    assert dumped["dest"]["endpoint"] == "http://127.0.0.1:9"
