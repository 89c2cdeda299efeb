"""Secrets never leave the machine: every kind is removed, ordinary log text is kept."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctrlops.ai.redact import MASK, redact

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AKIA = "AKIAIOSFODNN7EXAMPLE"
ASIA = "ASIAY34FZKBOKMUTVV7A"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"access_key_id = {AKIA}", AKIA),
        (f"secret_access_key = {AWS_SECRET}", AWS_SECRET),
        (f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", AWS_SECRET),
        (f"export AWS_ACCESS_KEY_ID={ASIA}", ASIA),
        (f"ERROR : using key {ASIA} for upload", ASIA),
        (f"a bare secret {AWS_SECRET} in a line", AWS_SECRET),
        ("Authorization: Bearer sk-live-0123456789abcdefXYZ", "sk-live-0123456789abcdefXYZ"),
        ("authorization: AWS4-HMAC-SHA256 Credential=AKIA/2024, Signature=f00dfeed", "f00dfeed"),
        ('curl -H "Authorization: Basic dXNlcjpwYXNz" https://x', "dXNlcjpwYXNz"),
        ("token is Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc", "eyJhbGciOiJIUzI1NiJ9"),
        ("https://backup:hunter2@db.example.com:5432/x", "hunter2"),
        ("sftp://root:s3cr%40t@10.0.0.5/", "s3cr%40t"),
        ("GET /b/k?X-Amz-Credential=AKIA%2F20240101&X-Amz-Signature=9f86d081884c7d65", "9f86d081"),
        ("GET /b/k?X-Amz-Signature=abc123def456&X-Amz-Credential=KEYID%2F2024", "KEYID"),
        ("X-Amz-Security-Token: FwoGZXIvYXdzEBYaDH", "FwoGZXIvYXdzEBYaDH"),
        ("password=hunter2 and more", "hunter2"),
        ("db_password: 'correct horse'", "correct horse"),
        ('{"api_key": "abc-123-xyz"}', "abc-123-xyz"),
        ("url?token=tok_9f8e7d&page=2", "tok_9f8e7d"),
        ("pass = obscured_QmFzZTY0", "obscured_QmFzZTY0"),
        ("OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz", "sk-proj-abcdefghijklmnop"),
        ("key sk-proj-abcdefghijklmnopqrstuvwxyz01 leaked", "sk-proj-abcdefghijklmnop"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nZm9vYmFy\n"
            "-----END RSA PRIVATE KEY-----",
            "Zm9vYmFy",
        ),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXkt\n(cut)", "b3BlbnNzaC1rZXkt"),
        ("b3BlbnNzaC1rZXkt\n-----END EC PRIVATE KEY-----\nlater", "b3BlbnNzaC1rZXkt"),
    ],
)
def test_it_removes_every_kind_of_planted_secret(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out, out
    assert MASK in out


def test_it_removes_an_rclone_config_block() -> None:
    conf = (
        "[dest]\ntype = s3\nprovider = AWS\nenv_auth = false\n"
        f"access_key_id = {AKIA}\nsecret_access_key = {AWS_SECRET}\nregion = eu-west-1\n"
    )
    out = redact(conf)
    assert AKIA not in out and AWS_SECRET not in out
    assert "provider = AWS" in out and "region = eu-west-1" in out and "[dest]" in out


ORDINARY = [
    "2024/05/01 02:00:01 ERROR : photos/2024/img_0001.jpg: Failed to copy: "
    "InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.",
    "ERROR : S3 bucket backups: error reading source root directory: "
    "SignatureDoesNotMatch: The request signature we calculated does not match the "
    "signature you provided. Check your key and signing method.",
    "ExpiredToken: The provided token has expired.",
    "Transferred:   \t    1.234 MiB / 1.234 MiB, 100%, 512 KiB/s, ETA 0s",
    "Errors:                 1 (retrying may help)",
    "Checks:               120 / 120, 100%",
    "Elapsed time:        12.5s",
    "NOTICE: /home/alice/Documents/Reports/2024/q1/summary-final.pdf: skipped",
    "Failed to copy: RequestError: send request failed: dial tcp: lookup "
    "s3.eu-west-1.amazonaws.com: no such host",
    "sha1 4f1c2e9a8b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e ok",
    "tokens: 1200, author: Alice, bypass: cache",
    "The password prompt was skipped",
    '{"level":"error","msg":"Failed to copy: AccessDenied: Access Denied","object":"a.txt"}',
]


@pytest.mark.parametrize("line", ORDINARY)
def test_it_keeps_ordinary_log_text(line: str) -> None:
    assert redact(line) == line


def test_it_removes_literal_secrets_in_their_url_and_json_spellings() -> None:
    secret = 'p@ss w/"rd'
    text = f'raw {secret} url https://h/?x=p%40ss%20w%2F%22rd json "p@ss w/\\"rd"'
    out = redact(text, [secret])
    assert "p@ss" not in out and "p%40ss" not in out
    assert out.startswith("raw ")


def test_it_masks_a_literal_made_of_mask_characters() -> None:
    assert "**" not in redact("a ** b", ["**"])


SECRETS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1)
TEXT = st.text(alphabet=string.printable + "é€*/=+", max_size=200)


@settings(max_examples=300, deadline=None)
@given(before=TEXT, secret=SECRETS, after=TEXT)
def test_it_never_lets_an_explicit_secret_survive(before: str, secret: str, after: str) -> None:
    assert secret not in redact(before + secret + after, [secret])


@settings(max_examples=100, deadline=None)
@given(text=TEXT, secrets=st.lists(SECRETS, min_size=1, max_size=3))
def test_it_never_lets_any_of_several_secrets_survive(text: str, secrets: list[str]) -> None:
    planted = text.join(secrets)
    out = redact(planted, secrets)
    assert all(s not in out for s in secrets)


def test_it_removes_a_literal_completed_by_masking_another() -> None:
    out = redact("xy", ["x*", "y"])
    assert "x*" not in out and "y" not in out
