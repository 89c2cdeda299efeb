"""Test Connection: can this server list, write, read and delete in the destination?

It runs on the server (through :func:`ctrlops.remote.exec.execute`), with the rclone the
runner will use, so DNS, firewalls, proxies and clock skew are the server's, exactly as a
backup will meet them. The first failing step is diagnosed into one category of the
shared vocabulary with a cause and a fix.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import secrets as pysecrets
import time
from dataclasses import dataclass, field
from typing import Any

from ctrlops.errors import CtrlopsError, RemoteCommandError
from ctrlops.rclone import commands
from ctrlops.rclone.providers import DestinationSpec, rclone_config
from ctrlops.remote.base import Remote, Result
from ctrlops.remote.exec import execute, mask, write_file
from ctrlops.runner import layout

STEPS = ("rclone", "endpoint", "credentials", "list", "write", "read", "delete")
PROBE_PREFIX = ".ctrlops-probe-"

# Prints $HOME then the runner's rclone (nothing when there is none): the config path
# handed to rclone must be absolute, as neither exec nor SSH quoting expands "~".
_LOCATE = 'printf "%s\\n" "$HOME"; ' + layout.FIND_RCLONE + " || true"


@dataclass(frozen=True)
class TestResult:
    """The outcome of Test Connection; ``step`` is the failing one (the last one when ok)."""

    __test__ = False  # not a pytest test class

    ok: bool
    step: str
    category: str | None
    cause: str
    fix: str
    raw: str = ""
    steps: tuple[dict[str, Any], ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """Return ``{"ok","step","category","cause","fix","raw","steps"}``."""
        return {
            "ok": self.ok,
            "step": self.step,
            "category": self.category,
            "cause": self.cause,
            "fix": self.fix,
            "raw": self.raw,
            "steps": [dict(s) for s in self.steps],
        }


# Ordered (first match wins): specific provider error codes before generic network ones;
# "TLS handshake timeout" is a hang, not a certificate problem.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (cat, re.compile(rx, re.IGNORECASE))
    for cat, rx in (
        ("auth_secret", r"SignatureDoesNotMatch|signature we calculated does not match"),
        ("auth_key_unknown", r"InvalidAccessKeyId|access key id you provided does not exist"),
        ("clock_skew", r"RequestTimeTooSkewed|time too skewed|RequestExpired"),
        (
            "wrong_region",
            r"AuthorizationHeaderMalformed|PermanentRedirect|BucketRegionError|"
            r"incorrect region|IllegalLocationConstraint|StatusCode: 301",
        ),
        ("bucket_missing", r"NoSuchBucket|bucket does not exist"),
        ("access_denied", r"AccessDenied|Access Denied|StatusCode: 403|\bForbidden\b"),
        ("quota", r"QuotaExceeded|StorageQuota|cap exceeded"),
        ("rate_limit", r"SlowDown|TooManyRequests|StatusCode: 429|StatusCode: 503"),
        (
            "timeout",
            r"timeout awaiting response headers|i/o timeout|TLS handshake timeout|"
            r"deadline exceeded|Client\.Timeout",
        ),
        (
            "dns",
            r"no such host|server misbehaving|name resolution|lookup \S+ on \S+: "
            r"|cannot resolve|Name or service not known",
        ),
        ("conn_refused", r"connection refused|network is unreachable|no route to host"),
        (
            "tls",
            r"x509:|tls: |certificate|HTTP response to HTTPS client|"
            r"does not look like a TLS handshake",
        ),
        ("provider_incompat", r"NotImplemented|not implemented"),
    )
)


def _explain(
    category: str, step: str, spec: DestinationSpec, server: str, raw: str = ""
) -> tuple[str, str]:
    """Return (cause, fix) for ``category`` met at ``step``."""
    where = f"{spec.bucket}/{spec.prefix}" if spec.prefix else spec.bucket
    endpoint = spec.effective_endpoint or f"AWS S3 in {spec.effective_region}"
    table = {
        "auth_secret": (
            f"the secret access key does not match access key {spec.access_key_id}",
            f"paste the secret again with `ctrlops dest edit {spec.name} --secret-stdin` "
            "(it is shown once by the provider); look for a missing or extra character",
        ),
        "auth_key_unknown": (
            f"the provider does not know access key {spec.access_key_id}",
            "check the key id and that the key was not deleted or made for another account "
            f"or endpoint; replace both with `ctrlops dest edit {spec.name} --access-key-id "
            "KEY --secret-stdin`",
        ),
        "access_denied": _denied(step, spec, where, raw),
        "bucket_missing": (
            f"bucket {spec.bucket!r} does not exist at {endpoint}",
            (
                f"check --bucket for a typo, or create {spec.bucket!r} with the provider's "
                f"console or `rclone mkdir` using a key that may create buckets"
            )
            if spec.may_create_bucket
            else f"check --bucket, or create {spec.bucket!r} in the Cloudflare dashboard "
            "(R2 object tokens cannot create buckets)",
        ),
        "wrong_region": (
            f"bucket {spec.bucket!r} is not in region {spec.effective_region}",
            "set --region (and --endpoint) to the bucket's region as shown by the provider",
        ),
        "clock_skew": (
            f"the clock of {server} is too far from the provider's (signatures expire)",
            f"sync the time on {server}: `timedatectl set-ntp true` or install chrony",
        ),
        "dns": (
            f"{server} cannot resolve the endpoint {endpoint}",
            "check --endpoint/--region for a typo and the server's DNS (/etc/resolv.conf)",
        ),
        "conn_refused": (
            f"{server} cannot connect to {endpoint} (refused or no route)",
            "check the endpoint's host and port, that the service runs, and the firewall",
        ),
        "timeout": (
            f"{endpoint} did not answer {server} in time",
            "check firewalls and proxies on the way (outbound HTTPS), or whether the "
            "endpoint is overloaded or down",
        ),
        "tls": (
            f"the TLS connection from {server} to {endpoint} failed (certificate or scheme)",
            "use the right http:// or https:// scheme; for a private CA install it in the "
            "server's trust store (ca-certificates)",
        ),
        "quota": ("the account's storage quota is exhausted", "raise the quota or free space"),
        "rate_limit": ("the provider is throttling requests", "try again in a few minutes"),
        "provider_incompat": (
            f"the endpoint does not support an S3 call rclone needs at the {step} step",
            "pick the matching --provider, or upgrade the S3 server",
        ),
    }
    return table.get(
        category,
        (f"the {step} step failed on {server}", "see the raw rclone line; run with -v"),
    )


def _denied(step: str, spec: DestinationSpec, where: str, raw: str) -> tuple[str, str]:
    if step == "list":
        return (
            f"the key may not list {where}",
            "grant the key list permission on the bucket (s3:ListBucket)",
        )
    if step == "write" and "CreateBucket" in raw:
        # rclone confirms the bucket with CreateBucket before its first upload.
        return (
            f"the key may list but not write to {where}: its bucket check (CreateBucket) "
            "was refused (a read-only key, or one without bucket permissions)",
            "use a key with write and delete permission on the bucket "
            "(s3:PutObject, s3:DeleteObject, and s3:CreateBucket on that bucket)",
        )
    if step in ("write", "delete"):
        verb = "write to" if step == "write" else "delete in"
        return (
            f"the key may read but not {verb} {where} (a read-only key?)",
            "use a key with write and delete permission on the bucket "
            "(s3:PutObject, s3:DeleteObject; rclone may also call CreateBucket)",
        )
    return (f"the key was refused at the {step} step", "check the key's permissions")


def _general_rule(line: str) -> tuple[str, str, str] | None:
    # The log-wide rules are someone else's module and optional here: everything this
    # module must tell apart is covered by _PATTERNS.
    try:
        rules: Any = importlib.import_module("ctrlops.diagnose.rules")
    except ImportError:
        return None
    rule = rules.match(line)
    if rule is None:
        return None
    return str(rule.category), str(rule.cause), str(rule.fix)


def classify(step: str, stderr: str) -> tuple[str, str]:
    """Return ``(category, decisive line)`` for rclone's ``stderr`` at ``step``.

    ``directory not found`` while listing the bucket means the bucket is missing: rclone
    lists a missing prefix of an existing bucket as empty.
    """
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for category, pattern in _PATTERNS:
        for line in lines:
            if pattern.search(line):
                return category, line
    for line in lines:
        if "directory not found" in line:
            # Only the list step can mean a missing bucket; after a successful list it is
            # something else, whatever a general log rule would say.
            return ("bucket_missing" if step == "list" else "other"), line
    for line in lines:
        general = _general_rule(line)
        if general:
            return general[0], line
    # rclone's first ERROR line names the failure; the closing "Failed to ..." summarises.
    errors = [ln for ln in lines if "ERROR" in ln or "CRITICAL" in ln]
    return "other", (errors or lines[-1:] or [""])[0]


class _Failed(Exception):
    def __init__(self, step: str, category: str, raw: str, cause: str = "", fix: str = ""):
        super().__init__(category)
        self.step, self.category, self.raw, self.cause, self.fix = step, category, raw, cause, fix


async def test_destination(
    remote: Remote, spec: DestinationSpec, secret: str, *, timeout: float = 20
) -> TestResult:
    """Run Test Connection for ``spec`` on ``remote``; return what passed or failed.

    Each step is bounded by ``timeout`` seconds. The temporary config directory is removed
    whatever happens. Raises ``ConnectionFailed`` only when the server itself cannot be
    reached (that is the server's failure, not the destination's).
    """
    config_text = rclone_config(spec, secret)  # refuses an unusable secret before any I/O
    timings: list[dict[str, Any]] = []
    clock = time.monotonic()

    def passed(step: str) -> None:
        nonlocal clock
        now = time.monotonic()
        timings.append({"step": step, "ok": True, "seconds": round(now - clock, 3)})
        clock = now

    async def run(step: str, argv: tuple[str, ...], stdin: bytes | None = None) -> Result:
        try:
            result = await execute(
                remote, argv, stdin=stdin, timeout=timeout, check=False, secrets=[secret]
            )
        except RemoteCommandError as e:  # only raised for a timeout with check=False
            raise _Failed(step, "timeout", mask(e.stderr, [secret])) from None
        if not result.ok:
            # rclone's first call both reaches the endpoint and signs: split the blame.
            category, raw = classify(step, result.stderr)
            if step == "endpoint" and category in _AUTH:
                step = "credentials"
            general = _general_rule(raw) if category not in _EXPLAINED else None
            cause, fix = general[1:] if general and general[0] == category else ("", "")
            hide = [secret]
            raise _Failed(step, category, mask(raw, hide), mask(cause, hide), mask(fix, hide))
        return result

    tmp_dir = ""
    try:
        found = await run("rclone", ("sh", "-c", _LOCATE, "ctrlops-locate"))
        home, _, rclone = found.stdout.partition("\n")
        rclone = rclone.strip()
        if not rclone:
            raise _Failed("rclone", "binary_missing", "", _NO_RCLONE[0],
                          _NO_RCLONE[1].format(server=remote.name))  # fmt: skip
        passed("rclone")
        tmp_dir = f"{home.strip()}/{layout.TMP}/{pysecrets.token_hex(8)}"
        config = f"{tmp_dir}/rclone.conf"
        try:
            await write_file(remote, config, config_text.encode(), mode=0o600, timeout=timeout)
        except RemoteCommandError as e:
            if e.exit_status is None:
                raise _Failed("rclone", "timeout", mask(e.cause, [secret])) from None
            raise _Failed("rclone", "local_permission", mask(e.cause, [secret]), *_NO_TMP) from None

        try:
            await run("endpoint", commands.list_buckets(rclone, config, timeout=timeout))
        except _Failed as e:
            # Keys scoped to one bucket may not list buckets; a signed refusal still
            # proves the endpoint answers and the key and secret are right.
            if e.category != "access_denied":
                raise
        passed("endpoint")
        passed("credentials")
        await run("list", commands.list_dir(rclone, config, spec.remote_path(), timeout=timeout))
        passed("list")

        probe = spec.remote_path(PROBE_PREFIX + pysecrets.token_hex(8))
        content = f"ctrlops probe {pysecrets.token_hex(16)}\n"
        await run("write", commands.write_stdin(rclone, config, probe, timeout=timeout),
                  content.encode())  # fmt: skip
        passed("write")
        delete = commands.delete(rclone, config, probe, timeout=timeout)
        try:
            got = await run("read", commands.read(rclone, config, probe, timeout=timeout))
            if got.stdout != content:
                # rclone cat of a missing object prints nothing and exits 0.
                raise _Failed("read", "other", mask(got.stdout[:200], [secret]), *_MISMATCH)
        except _Failed:
            # Leave no probe behind, but report the read failure, not the delete's.
            with contextlib.suppress(_Failed):
                await run("delete", delete)
            raise
        passed("read")
        await run("delete", delete)
        passed("delete")
    except _Failed as e:
        cause, fix = (
            (e.cause, e.fix) if e.cause else _explain(e.category, e.step, spec, remote.name, e.raw)
        )
        timings.append({"step": e.step, "ok": False, "seconds": round(time.monotonic() - clock, 3)})
        return TestResult(False, e.step, e.category, cause, fix, e.raw, tuple(timings))
    finally:
        if tmp_dir:
            await _remove(remote, tmp_dir)
    where = f"{spec.bucket}/{spec.prefix}" if spec.prefix else spec.bucket
    cause = f"{remote.name} can list, write, read and delete in {where}"
    return TestResult(True, "delete", None, cause, "", "", tuple(timings))


_AUTH = {"auth_secret", "auth_key_unknown", "clock_skew"}
# Categories _explain words for this test; others keep the general rule's cause and fix.
_EXPLAINED = {cat for cat, _ in _PATTERNS} | {"bucket_missing"}
_NO_RCLONE = (
    "rclone is not installed where the runner looks (~/.ctrlops/bin or cron's PATH)",
    "install it with `ctrlops server fix {server} install-rclone`",
)
_NO_TMP = (
    f"cannot write a temporary rclone config under ~/{layout.TMP} on the server",
    "check that the remote user's home is writable and not full",
)
_MISMATCH = (
    "the probe object read back differs from what was written",
    "an S3 gateway or proxy altered or lost the object; check the endpoint's consistency",
)


async def _remove(remote: Remote, tmp_dir: str) -> None:
    # Best effort: a dropped connection here must not hide the test's own result. The
    # directory name is ours (hex), so rm -rf cannot reach anything else.
    with contextlib.suppress(CtrlopsError, OSError):
        await execute(remote, ("rm", "-rf", "--", tmp_dir), timeout=30, check=False)
