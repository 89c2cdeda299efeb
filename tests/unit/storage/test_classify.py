"""Diagnosis of rclone's error lines, and the step flow, with a scripted server.

DNS and clock skew cannot be produced for real on loopback (no name may leave the machine,
rclone's clock cannot be faked), so they are covered with the lines rclone and the
providers publish.
"""

from __future__ import annotations

import asyncio
import sys
import types
from collections.abc import Sequence

import pytest

from ctrlops.rclone.providers import DestinationSpec
from ctrlops.remote.base import Result
from ctrlops.storage import connection_test as ct

TS = "2025/01/02 03:04:05 "
DNS = (
    TS + "ERROR : error listing: operation error S3: ListBuckets, exceeded maximum number of "
    "attempts, 1, https response error StatusCode: 0, RequestID: , HostID: , request send "
    'failed, Get "https://s3.eu-west-9.amazonaws.com/?x-id=ListBuckets": dial tcp: lookup '
    "s3.eu-west-9.amazonaws.com on 127.0.0.53:53: no such host"
)
SKEW = (
    TS + "ERROR : error listing: operation error S3: ListBuckets, https response error "
    "StatusCode: 403, RequestID: 7W0Q, HostID: x, api error RequestTimeTooSkewed: The "
    "difference between the request time and the current time is too large."
)
REGION = (
    TS + "ERROR : error listing: operation error S3: ListObjectsV2, https response error "
    "StatusCode: 400, RequestID: Q1, HostID: h, api error AuthorizationHeaderMalformed: The "
    "authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'"
)


@pytest.mark.parametrize(
    ("step", "line", "category"),
    [
        ("endpoint", DNS, "dns"),
        ("endpoint", SKEW, "clock_skew"),
        ("list", REGION, "wrong_region"),
        ("list", TS + "ERROR : : BucketRegionError: incorrect region, the bucket is not in "
         "'us-east-1' region at endpoint ''", "wrong_region"),
        ("list", TS + "ERROR : 301 Moved Permanently: PermanentRedirect", "wrong_region"),
        ("write", TS + "ERROR : api error NoSuchBucket: The specified bucket does not exist",
         "bucket_missing"),
        ("list", TS + "ERROR : error listing: directory not found", "bucket_missing"),
        ("endpoint", TS + 'ERROR : Get "https://10.0.0.1/": tls: failed to verify certificate: '
         "x509: certificate signed by unknown authority", "tls"),
        ("endpoint", TS + 'ERROR : Get "https://h/": net/http: TLS handshake timeout', "timeout"),
        ("endpoint", TS + "ERROR : net/http: timeout awaiting response headers", "timeout"),
        ("endpoint", TS + "ERROR : dial tcp 127.0.0.1:1: connect: connection refused",
         "conn_refused"),
        ("write", TS + "ERROR : api error AccessDenied: Access Denied.", "access_denied"),
        ("endpoint", TS + "ERROR : api error SignatureDoesNotMatch: The request signature",
         "auth_secret"),
        ("endpoint", TS + "ERROR : api error InvalidAccessKeyId: The AWS Access Key Id",
         "auth_key_unknown"),
        ("write", TS + "ERROR : api error SlowDown: Please reduce your request rate.",
         "rate_limit"),
        ("read", TS + "ERROR : something nobody has seen before", "other"),
    ],
)  # fmt: skip
def test_it_names_each_published_failure(step: str, line: str, category: str) -> None:
    stderr = line + "\n" + TS + "NOTICE: Failed to lsf with 2 errors: last error was: x\n"
    got, raw = ct.classify(step, stderr)
    assert got == category
    assert raw == line.strip()


def test_it_reads_directory_not_found_as_bucket_missing_only_when_listing() -> None:
    line = TS + "ERROR : error listing: directory not found"
    assert ct.classify("list", line)[0] == "bucket_missing"
    assert ct.classify("read", line)[0] != "bucket_missing"


SECRET = "Sup3rSecretValue"


class ScriptedServer:
    """Answers like a server whose rclone fails the first S3 call with ``line``."""

    name = "web1"

    def __init__(self, line: str, *, rclone: str = "/usr/bin/rclone") -> None:
        self.line, self.rclone, self.argvs = line, rclone, []  # type: ignore[var-annotated]

    async def run(
        self, argv: Sequence[str], *, stdin: bytes | None = None, timeout: float
    ) -> Result:
        self.argvs.append(tuple(argv))
        if argv[0] == "sh" and argv[-1] == "ctrlops-locate":
            return Result(tuple(argv), 0, f"/home/u\n{self.rclone}\n".lstrip("\n"), "")
        if argv[0] == self.rclone:
            return Result(tuple(argv), 5, "", f"{self.line} key={SECRET}\n")
        return Result(tuple(argv), 0, "", "")

    async def close(self) -> None:
        return None


def spec() -> DestinationSpec:
    return DestinationSpec(name="d", provider="aws", region="eu-west-1", bucket="bkt",
                           access_key_id="AKIAEXAMPLE")  # fmt: skip


@pytest.mark.parametrize(
    ("line", "step", "category"), [(DNS, "endpoint", "dns"), (SKEW, "credentials", "clock_skew")]
)
def test_it_blames_the_first_call_on_the_right_step(line: str, step: str, category: str) -> None:
    server = ScriptedServer(line)
    result = asyncio.run(ct.test_destination(server, spec(), SECRET, timeout=5))
    assert (result.ok, result.step, result.category) == (False, step, category)
    assert SECRET not in str(result.as_dict())
    assert "********" in result.raw
    assert result.cause and result.fix
    # The temporary config directory is removed even though the test failed.
    assert server.argvs[-1][:3] == ("rm", "-rf", "--")
    assert server.argvs[-1][3].startswith("/home/u/.ctrlops/tmp/")


def test_it_reports_a_missing_rclone_without_touching_the_storage() -> None:
    server = ScriptedServer(DNS, rclone="")
    result = asyncio.run(ct.test_destination(server, spec(), SECRET, timeout=5))
    assert (result.ok, result.step, result.category) == (False, "rclone", "binary_missing")
    assert "install-rclone" in result.fix
    assert len(server.argvs) == 1  # nothing written, nothing to clean up


def test_it_falls_back_to_the_general_rules_for_lines_it_does_not_know(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Rule:
        category, cause, fix = "quota", "over quota", "free space"

    fake = types.ModuleType("ctrlops.diagnose.rules")
    fake.match = lambda line: Rule() if "odd-provider-code" in line else None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ctrlops.diagnose.rules", fake)
    assert ct.classify("write", TS + "ERROR : odd-provider-code 42") == (
        "quota",
        TS + "ERROR : odd-provider-code 42",
    )
    # Step-specific knowledge is not overridden by the general rules.
    assert ct.classify("list", TS + "ERROR : directory not found odd-provider-code")[0] == (
        "bucket_missing"
    )


def test_it_keeps_the_general_rules_words_for_categories_it_does_not_word(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Rule:
        category, cause, fix = "local_resource", "the server ran out of memory", "add swap"

    fake = types.ModuleType("ctrlops.diagnose.rules")
    fake.match = lambda line: Rule() if "cannot allocate memory" in line else None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ctrlops.diagnose.rules", fake)
    server = ScriptedServer(TS + "ERROR : fork/exec: cannot allocate memory")
    result = asyncio.run(ct.test_destination(server, spec(), SECRET, timeout=5))
    assert (result.step, result.category) == ("endpoint", "local_resource")
    assert (result.cause, result.fix) == ("the server ran out of memory", "add swap")
