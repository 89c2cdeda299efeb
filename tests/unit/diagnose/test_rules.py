"""The knowledge base against rclone's real and published messages (sdk v1 and v2 forms)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctrlops.diagnose.rules import CATEGORIES, RULES, explain, match

NO_TYPE = "couldn't find type of fs for"  # fs/config/ui.go

# Lines as rclone prints them: captured from rclone 1.75 against SeaweedFS on loopback, or
# quoted from rclone issues (1.4x-1.6x, aws-sdk-go v1 "Code: message" form).
PUBLISHED = [
    # auth_secret (rclone 1.75 / sdk v2; rclone 1.5x / sdk v1)
    (
        "f0.txt: Failed to copy: failed to prepare upload: operation error S3: CreateBucket, "
        "https response error StatusCode: 403, RequestID: 18EBA7B9F5367450AF5AC0DF, HostID: , "
        "api error SignatureDoesNotMatch: The request signature we calculated does not match "
        "the signature you provided. Check your key and signing method.",
        "auth_secret",
    ),
    (
        "backup.tar: Failed to copy: SignatureDoesNotMatch: The request signature we "
        "calculated does not match the signature you provided. Check your key and signing "
        "method.\n\tstatus code: 403, request id: 4442587FB7D0A2F9, host id: ",
        "auth_secret",
    ),
    (
        "S3 bucket t-67ab4553: error reading destination root directory: operation error S3: "
        "ListObjects, https response error StatusCode: 403, RequestID: 18EBA7BA078461E29BF56ED6"
        ", HostID: , api error InvalidAccessKeyId: The access key ID you provided does not "
        "exist in our records.",
        "auth_key_unknown",
    ),
    (
        'Failed to create file system for "s3:bucket": InvalidAccessKeyId: The AWS Access '
        "Key Id you provided does not exist in our records.\n\tstatus code: 403",
        "auth_key_unknown",
    ),
    (
        "f0.txt: Failed to copy: operation error S3: PutObject, https response error "
        "StatusCode: 403, RequestID: 18EBA7AF826D8F60679AE6B4, HostID: , api error "
        "AccessDenied: Access Denied.",
        "access_denied",
    ),
    ("test3.txt: Failed to copy: AccessDenied: not entitled", "access_denied"),
    (
        "a.txt: Failed to copy: operation error S3: PutObject, https response error "
        "StatusCode: 404, RequestID: 1, HostID: h, api error NoSuchBucket: The specified "
        "bucket does not exist",
        "bucket_missing",
    ),
    (
        "S3 bucket nosuch-df399b path x: error reading source root directory: directory not found",
        "bucket_missing",
    ),
    (
        "S3 bucket b: error reading destination root directory: operation error S3: "
        "ListObjects, https response error StatusCode: 400, api error "
        "AuthorizationHeaderMalformed: The authorization header is malformed; the region "
        "'us-east-1' is wrong; expecting 'eu-west-1'",
        "wrong_region",
    ),
    (
        "Failed to copy: operation error S3: PutObject, https response error StatusCode: 301, "
        "api error PermanentRedirect: The bucket you are attempting to access must be "
        "addressed using the specified endpoint. Please send all future requests to this "
        "endpoint.",
        "wrong_region",
    ),
    (
        "f: Failed to copy: operation error S3: PutObject, https response error StatusCode: "
        "403, api error RequestTimeTooSkewed: The difference between the request time and "
        "the current time is too large.",
        "clock_skew",
    ),
    (
        'Time may be set wrong - time from "s3.eu-central-1.wasabisys.com" is -1h2m3s '
        "different from this computer",
        "clock_skew",
    ),
    (
        "f0.txt: Failed to copy: failed to prepare upload: operation error S3: CreateBucket, "
        "https response error StatusCode: 0, RequestID: , HostID: , request send failed, Put "
        '"http://nonexistent.invalid/bkt": dial tcp: lookup nonexistent.invalid: no such host',
        "dns",
    ),
    (
        "error listing: operation error S3: ListObjects, request send failed, Get "
        '"http://s3.example.test/b": dial tcp: lookup s3.example.test on 10.255.255.53:53: '
        "dial udp 10.255.255.53:53: connect: network is unreachable",
        "dns",
    ),
    (
        "S3 bucket t-67ab4553: error reading destination root directory: operation error S3: "
        "ListObjects, exceeded maximum number of attempts, 1, https response error StatusCode:"
        ' 0, RequestID: , HostID: , request send failed, Get "http://127.0.0.1:56785/t-67ab455'
        '3?delimiter=%2F&max-keys=1000&prefix=": dial tcp 127.0.0.1:56785: connect: connection'
        " refused",
        "conn_refused",
    ),
    (
        'a: Failed to copy: Put "https://s3.amazonaws.com/b/a": dial tcp 52.216.1.1:443: '
        "i/o timeout",
        "timeout",
    ),
    (
        'Failed to copy: RequestError: send request failed\ncaused by: Put "https://x/b/a": '
        "context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
        "timeout",
    ),
    (
        'Failed to create file system for "s3:b": Get "https://minio.lan:9000/b": x509: '
        "certificate signed by unknown authority",
        "tls",
    ),
    ('Get "https://127.0.0.1:9000/": http: server gave HTTP response to HTTPS client', "tls"),
    (
        "f: Failed to copy: operation error S3: PutObject, https response error StatusCode: "
        "403, api error AccessDenied: Cannot upload files, storage cap exceeded.",
        "quota",
    ),
    (
        "f: Failed to copy: XMinioStorageFull: Storage backend has reached its minimum free "
        "drive threshold. Please delete a few objects to proceed.",
        "quota",
    ),
    (
        "f: Failed to copy: operation error S3: PutObject, https response error StatusCode: "
        "503, api error SlowDown: Please reduce your request rate.",
        "rate_limit",
    ),
    (
        ": error reading destination directory: 200 calls/minute allowed for: "
        "API_LIST_FILE_NAMES_CALLED (429 too_many_requests)",
        "rate_limit",
    ),
    (
        "f: Failed to copy: NotImplemented: A header you provided implies functionality that "
        "is not implemented\n\tstatus code: 501, request id: 6BAC367485838EA0",
        "provider_incompat",
    ),
    (
        "Local file system at /tmp/dg/nosuchdir: error reading source root directory: "
        "directory not found",
        "source_missing",
    ),
    (
        "secret.txt: Failed to copy: failed to open source object: open "
        "/tmp/tmpgoco56v3/secret.txt: permission denied",
        "local_permission",
    ),
    (
        'sub: failed to open directory "sub": open /srv/www/sub: permission denied',
        "local_permission",
    ),
    (
        "big.iso: Failed to copy: failed to open source object: open /srv/big.iso: too many "
        "open files",
        "local_resource",
    ),
    ("Failed to write log: write /var/log/x: no space left on device", "local_resource"),
    (
        'Failed to create file system for "nosuchremote:t-bbc112dc/y": didn\'t find section in '
        'config file ("nosuchremote")',
        "config_error",
    ),
    (
        f'Failed to create file system for "s3t:b": {NO_TYPE} "s3t"',
        "config_error",
    ),
    ("Error: unknown flag: --s3-nonsense", "config_error"),
    ("sh: 1: rclone: not found", "binary_missing"),
    ("bash: rclone: command not found", "binary_missing"),
    ("Signal received: terminated", "killed"),
    ("Killed", "killed"),
]


@pytest.mark.parametrize(("line", "category"), PUBLISHED)
def test_it_maps_real_rclone_lines_to_their_category(line: str, category: str) -> None:
    rule = match(line)
    assert rule is not None, line
    assert rule.category == category


def test_it_reads_the_is_a_file_trap_as_credentials_not_a_file() -> None:
    line = 'Failed to create file system for "s3t:t-bbc112dc/x": is a file not a directory'
    found = explain(line)
    assert found is not None
    assert found.category == "access_denied"
    assert found.weak  # a more specific line elsewhere in the log wins
    assert "No file is in the way" in found.cause
    assert "s3t:t-bbc112dc/x" in found.cause
    assert "credentials" in found.cause


def test_it_prefers_the_signature_error_in_a_debug_line_over_the_head_403() -> None:
    line = (
        "S3 bucket b: Couldn't check "
        '"b/x" for children after HEAD failed (operation error '
        "S3: HeadObject, https response error StatusCode: 403, api error Forbidden: "
        "Forbidden): operation error S3: ListObjects, https response error StatusCode: 403, "
        "api error SignatureDoesNotMatch: The request signature we calculated does not match"
    )
    rule = match(line)
    assert rule is not None and rule.category == "auth_secret"


def test_it_fills_placeholders_from_the_line() -> None:
    region = explain(
        "api error AuthorizationHeaderMalformed: The authorization header is malformed; the "
        "region 'us-east-1' is wrong; expecting 'eu-west-1'"
    )
    assert region is not None
    assert "eu-west-1" in region.cause and "us-east-1" in region.cause
    assert "eu-west-1" in region.fix
    dns = explain(
        'Put "http://nonexistent.invalid/b": dial tcp: lookup nonexistent.invalid: no such host'
    )
    assert dns is not None and "nonexistent.invalid" in dns.cause
    perm = explain(
        "x: Failed to copy: failed to open source object: open /srv/a b.txt: permission denied"
    )
    assert perm is not None and "/srv/a b.txt" in perm.cause
    bucket = explain(
        "S3 bucket photos path 2024: error reading source root directory: directory not found"
    )
    assert bucket is not None and "photos" in bucket.cause and "2024" in bucket.cause


def test_it_uses_a_plain_default_when_a_placeholder_did_not_match() -> None:
    found = explain("api error NoSuchBucket: The specified bucket does not exist")
    assert found is not None
    assert "{" not in found.cause and "{" not in found.fix
    assert "the bucket" in found.cause


@pytest.mark.parametrize(
    ("line", "provider", "needle"),
    [
        ("dial tcp: lookup abc.r2.cloudflarestorage.com: no such host", "r2", "ACCOUNT_ID"),
        (
            "api error InvalidAccessKeyId: The access key ID you provided does not exist",
            "r2",
            "r2.cloudflarestorage.com",
        ),
        ("api error AccessDenied: Access Denied.", "b2", "restricted to one bucket"),
        ("api error AccessDenied: Cannot upload files, storage cap exceeded.", "b2", "Caps"),
        (
            "api error PermanentRedirect: must be addressed using the specified endpoint",
            "wasabi",
            "wasabisys.com",
        ),
        (
            "api error PermanentRedirect: must be addressed using the specified endpoint",
            "spaces",
            "digitaloceanspaces.com",
        ),
        ("the region 'us-east-1' is wrong; expecting 'eu-west-1'", "aws", "PermanentRedirect"),
    ],
)
def test_it_refines_the_fix_for_the_provider(line: str, provider: str, needle: str) -> None:
    plain = explain(line)
    refined = explain(line, provider)
    assert plain is not None and refined is not None
    assert needle in refined.fix
    assert needle not in plain.fix
    assert refined.category == plain.category


def test_it_ignores_unknown_providers() -> None:
    found = explain("api error AccessDenied: Access Denied.", "nosuchprovider")
    assert found is not None and found.category == "access_denied"


@pytest.mark.parametrize(
    "line",
    [
        "pacer: Rate limited, increasing sleep to 10ms",
        'Config file "/root/.config/rclone/rclone.conf" not found - using defaults',
        "There was nothing to transfer",
        "Attempt 2/3 succeeded",
        "f0.txt: Copied (new)",
        "",
    ],
)
def test_it_does_not_match_harmless_lines(line: str) -> None:
    assert match(line) is None


def test_it_keeps_every_rule_inside_the_shared_vocabulary() -> None:
    assert len({r.id for r in RULES}) == len(RULES)
    for rule in RULES:
        assert rule.category in CATEGORIES
        assert rule.cause and rule.fix


def test_it_returns_frozen_rules() -> None:
    rule = match("api error AccessDenied: Access Denied.")
    assert rule is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.category = "other"  # type: ignore[misc]


@given(st.text(max_size=400), st.sampled_from([None, "aws", "r2", "b2", "wasabi", "x"]))
def test_it_never_crashes_and_stays_in_the_vocabulary(line: str, provider: str | None) -> None:
    found = explain(line, provider)
    assert found is None or found.category in CATEGORIES
