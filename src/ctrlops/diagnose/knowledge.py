"""The knowledge base: rclone / S3 message patterns -> category, cause and fix (data only).

Patterns are built from rclone's own message strings (fs/fs.go errors, cmd/cmd.go,
fs/operations, fs/march, backend/s3, backend/local) and the S3 error codes the AWS SDKs put
after ``api error`` (sdk v2, rclone >= 1.64) or at the start of the message (sdk v1, older
rclone). ORDER MATTERS: the first matching entry wins, so specific codes come before the
generic HTTP statuses they travel with (a 403 can be a bad signature, a denied key or a
storage cap). ``weak`` entries only name a cause when nothing more specific is in the log.

Causes and fixes may use ``{name}`` placeholders filled from the pattern's named groups.
:data:`REASONS` and :data:`RECORD_PROBLEMS` explain what the runner's status record says
where the log cannot (a full disk leaves no log to match).
"""

from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    id: str
    category: str
    pattern: str
    cause: str
    fix: str
    weak: bool = False


_TEST = "then run Test Connection (`ctrlops dest test NAME --server SERVER`)"

ENTRIES: tuple[Entry, ...] = (
    # -- the run itself stopped ------------------------------------------------------------
    Entry(
        "signal_received",
        "killed",
        r"Signal received: (?P<signal>[\w ]+)",
        "rclone was stopped by a signal ({signal}) before it finished",
        "if nobody stopped it on purpose, look for the OOM killer (`dmesg | grep -i kill`), a "
        "reboot or a service timeout; then run the job again",
    ),
    Entry(
        "shell_killed",
        "killed",
        r"^(?:Killed|Terminated)\b|signal: (?:killed|terminated)",
        "the rclone process was killed before it finished",
        "if nobody used Kill This Process, look for the OOM killer (`dmesg | grep -i kill`) "
        "or a reboot; then run the job again",
    ),
    Entry(
        "rclone_not_found",
        "binary_missing",
        r"rclone: (?:command )?not found|executable file not found in \$PATH|"
        r"failed to run command .rclone.: No such file|rclone: No such file or directory|"
        r"cannot execute binary file",
        "the server could not run rclone: it is not installed in the runner's PATH (cron's "
        "PATH is shorter than your login shell's) or it is built for another CPU",
        "click Install Rclone (or `ctrlops server fix SERVER install-rclone`), which puts a "
        "matching rclone in ~/.ctrlops/bin",
    ),
    # -- configuration -----------------------------------------------------------------------
    Entry(
        "remote_not_in_config",
        "config_error",
        r"didn't find section in config file(?: \(\"?(?P<remote>[^\")]+)\"?\))?",
        "the rclone config has no remote named {remote}",
        "re-save the destination so ctrlops rewrites the job's rclone.conf, and check the "
        "job points at that destination",
    ),
    Entry(
        "remote_without_type",
        "config_error",
        r"couldn't find type (?:field in config|of fs for \"(?P<remote>[^\"]+)\")|"
        r"didn't find backend called \"(?P<backend>[^\"]+)\"",
        "the rclone config for this remote is incomplete or names an unknown backend",
        "re-save the destination so ctrlops rewrites the job's rclone.conf",
    ),
    Entry(
        "config_unreadable",
        "config_error",
        r"Failed to load config file \"(?P<path>[^\"]+)\"|unable to decrypt configuration|"
        r"couldn't decrypt config",
        "rclone could not read its config file {path}",
        "re-save the destination so ctrlops rewrites the file with mode 0600 for the backup user",
    ),
    Entry(
        "no_credentials",
        "config_error",
        r"NoCredentialProviders|no valid providers in chain|failed to refresh cached "
        r"credentials|static credentials are empty",
        "rclone found no access key for the destination (the remote has no access_key_id / "
        "secret_access_key and no environment credentials)",
        "re-enter the access key ID and secret for the destination, " + _TEST,
    ),
    Entry(
        "usage",
        "config_error",
        r"unknown (?:shorthand )?flag: (?P<flag>\S+)|unknown command \"(?P<command>[^\"]+)\"|"
        r"Command \w+ needs \d+ arguments?|invalid argument \"[^\"]*\" for \"(?P<opt>[^\"]+)\"",
        "rclone rejected its command line (an option this rclone version does not know, or "
        "a bad value)",
        "check the job's extra flags; an older rclone may not know a newer flag: update it "
        "with Install Rclone",
    ),
    # -- credentials, region, clock ----------------------------------------------------------
    Entry(
        "signature_mismatch",
        "auth_secret",
        r"SignatureDoesNotMatch|request signature we calculated does not match",
        "the storage rejected the request signature: the secret access key does not belong "
        "to this access key ID",
        "paste the secret access key again (copy it fresh from the provider's console; a "
        "missing last character or a trailing space is typical), " + _TEST,
    ),
    Entry(
        "access_key_unknown",
        "auth_key_unknown",
        r"InvalidAccessKeyId|Access Key Id you provided does not exist|access key ID you "
        r"provided does not exist|InvalidToken|ExpiredToken|provided token has expired",
        "the storage does not know this access key ID (mistyped, deleted, or from another "
        "account or endpoint)",
        "copy the access key ID again from the provider's console, check the endpoint "
        "belongs to the same account, " + _TEST,
    ),
    Entry(
        "region_header",
        "wrong_region",
        r"the region '(?P<used>[^']*)' is wrong; expecting '(?P<region>[^']+)'",
        "the bucket lives in region {region} but rclone signed for {used}",
        "set the destination's region to {region} (and its regional endpoint)",
    ),
    Entry(
        "region_redirect",
        "wrong_region",
        r"AuthorizationHeaderMalformed|PermanentRedirect|must be addressed using the "
        r"specified endpoint|BucketRegionError|IllegalLocationConstraintException|"
        r"StatusCode: 301\b|status code: 301\b|301 Moved Permanently|incorrect region",
        "the bucket is in a different region than the destination's region or endpoint",
        "set the destination's region and endpoint to the bucket's region (shown in the "
        "provider console next to the bucket)",
    ),
    Entry(
        "time_skew",
        "clock_skew",
        r"RequestTimeTooSkewed|difference between the request time and the current time is "
        r"too large|Time may be set wrong - time from \"(?P<host>[^\"]+)\" is (?P<delta>\S+)",
        "the server's clock is too far off (S3 refuses signatures more than 15 minutes off)",
        "turn on time sync on the server (`timedatectl set-ntp true`, or install chrony), "
        "check with `timedatectl`, then run the job again",
    ),
    # -- the storage refuses: quota before access, since caps come back as 403 ---------------
    Entry(
        "storage_quota",
        "quota",
        r"QuotaExceeded|storage[ _]cap[ _]exceeded|transaction[ _]cap[ _]exceeded|"
        r"cap exceeded|XMinioStorageFull|minimum free (?:drive|disk) threshold|"
        r"InsufficientStorage|TooManyBuckets",
        "the storage account hit a quota or spending cap and refuses new data",
        "raise the cap or quota in the provider's console (or free space there), then run "
        "the job again",
    ),
    Entry(
        "throttled",
        "rate_limit",
        r"SlowDown|reduce your request rate|TooManyRequests|Too Many Requests|"
        r"StatusCode: 429\b|status code: 429\b|\(429 too_many_requests\)|RequestLimitExceeded",
        "the storage is throttling rclone: too many requests per second",
        "lower --transfers/--checkers and add --tpslimit 10 to the job; it usually passes "
        "on the next run",
    ),
    Entry(
        "access_denied",
        "access_denied",
        r"AccessDenied|Access Denied|AllAccessDisabled|AccountProblem|not entitled",
        "the access key is valid but not allowed to do this (the key's policy or "
        "capabilities do not cover this bucket or action)",
        "give the key list, read and write access to the bucket (delete too for mirror "
        "mode), or use a key that has it, " + _TEST,
    ),
    # -- bucket and local paths --------------------------------------------------------------
    Entry(
        "no_such_bucket",
        "bucket_missing",
        r"(?:S3 bucket (?P<bucket>[^\s:]+)[^\n]*?)?(?:NoSuchBucket|specified bucket does not "
        r"exist)",
        "the bucket {bucket} does not exist on this endpoint",
        "create the bucket in the provider's console, or fix the bucket name in the "
        "destination (names are case-sensitive)",
    ),
    Entry(
        "bucket_dir_not_found",
        "bucket_missing",
        r"S3 bucket (?P<bucket>[^\s:]+)(?: path (?P<path>[^:\n]+))?: error reading \w+ "
        r"(?:root )?directory: directory not found",
        "the bucket {bucket} does not exist, or holds nothing under {path}",
        "check the bucket name and prefix in the destination; create the bucket in the "
        "provider's console if it is missing",
    ),
    Entry(
        "source_dir_not_found",
        "source_missing",
        r"Local file system at (?P<path>[^:\n]+): error reading source (?:root )?directory: "
        r"(?:directory not found|[^\n]*no such file or directory)",
        "the source path {path} does not exist on the server",
        "fix the job's source path (a typo or an unmounted disk is typical); `ls -d {path}` "
        "on the server must succeed",
    ),
    Entry(
        "source_vanished",
        "source_missing",
        r"failed to open source object: (?:open|stat|lstat) (?P<path>[^\n]+?): no such file "
        r"or directory",
        "{path} disappeared while the backup ran (deleted or rotated before rclone read it)",
        "usually harmless for temp or rotated files; exclude them (--exclude) to keep runs clean",
    ),
    Entry(
        "local_denied",
        "local_permission",
        r"(?:open|stat|lstat|mkdir|remove|rename|chtimes|chmod|readdirent) "
        r"(?P<path>/[^\n]*?): (?:permission denied|operation not permitted)|"
        r"read-only file system",
        "the backup user cannot read {path} on the server (file permissions)",
        "run the job as a user that can read it, grant read access (`setfacl -m "
        "u:USER:r {path}`), or exclude it",
    ),
    Entry(
        "local_exhausted",
        "local_resource",
        r"no space left on device|too many open files|cannot allocate memory|out of memory|"
        r"disk quota exceeded",
        "the server ran out of a local resource (disk space, open files or memory)",
        "free disk space (`df -h`), raise the open-files limit (`ulimit -n`) or lower "
        "--transfers/--checkers, then run the job again",
    ),
    Entry(
        "path_missing",
        "source_missing",
        r"(?:open|stat|lstat) (?P<path>/[^\n]*?): no such file or directory",
        "{path} does not exist on the server",
        "fix the path in the job (a typo or an unmounted disk is typical)",
        weak=True,
    ),
    # -- network -----------------------------------------------------------------------------
    Entry(
        "tls_clock",
        "tls",
        r"x509: certificate has expired or is not yet valid",
        "the endpoint's TLS certificate is expired or not yet valid (or the server's clock "
        "is far off)",
        "check the server's clock with `timedatectl`; if it is right, the endpoint's "
        "certificate must be renewed",
    ),
    Entry(
        "tls_untrusted",
        "tls",
        r"x509:|tls: failed to verify certificate|first record does not look like a TLS "
        r"handshake|server gave HTTP response to HTTPS client|remote error: tls:",
        "the TLS connection to the endpoint failed (untrusted or mismatched certificate, or "
        "http/https mixed up)",
        "install CA certificates on the server (`apt-get install ca-certificates`), and "
        "check the endpoint URL's scheme (https:// vs http://) and host name",
    ),
    Entry(
        "dns_no_such_host",
        "dns",
        r"lookup (?P<host>[^\s:]+?)(?: on \S+)?: no such host|no such host|Name or service "
        r"not known",
        "the endpoint's host name {host} does not resolve (typo in the endpoint, or a name "
        "that does not exist)",
        "check the endpoint URL in the destination; `getent hosts {host}` on the server "
        "must print an address",
    ),
    Entry(
        "dns_resolver",
        "dns",
        r"lookup (?P<host>[^\s:]+?)(?: on \S+)?: |Temporary failure in name resolution|"
        r"server misbehaving",
        "the server could not look up {host}: its DNS resolver did not answer",
        "check /etc/resolv.conf and the server's network; `getent hosts {host}` must work",
    ),
    Entry(
        "refused",
        "conn_refused",
        r"(?:dial tcp (?P<addr>\S+?): )?(?:connect: )?connection refused",
        "nothing accepts connections at the endpoint {addr} (wrong port, or the service is down)",
        "check the endpoint URL and port in the destination; for self-hosted storage, "
        "start the service",
    ),
    Entry(
        "unreachable",
        "conn_refused",
        r"no route to host|network is unreachable",
        "the server has no network route to the endpoint",
        "check the server's network and firewall (outbound HTTPS must be allowed)",
    ),
    Entry(
        "timed_out",
        "timeout",
        r"i/o timeout|context deadline exceeded|Client\.Timeout exceeded|TLS handshake "
        r"timeout|timeout awaiting response headers|RequestTimeout\b|not read from or "
        r"written to within the timeout period",
        "the endpoint did not answer in time (network drops, a firewall silently dropping "
        "packets, or an overloaded endpoint)",
        "check the network path to the endpoint (firewall egress rules); if the link is "
        "slow, raise --timeout and lower --transfers",
    ),
    Entry(
        "connection_cut",
        "timeout",
        r"connection reset by peer|broken pipe|unexpected EOF",
        "the connection to the endpoint was cut mid-request",
        "usually transient; if it repeats, check proxies/firewalls between the server and "
        "the endpoint and lower --transfers",
        weak=True,
    ),
    # -- the provider does not speak this part of S3 -----------------------------------------
    Entry(
        "not_implemented",
        "provider_incompat",
        r"NotImplemented|not implemented|Missing required header for this request: "
        r"Content-M[Dd]5|XAmzContentSHA256Mismatch|InvalidStorageClass|EntityTooLarge|"
        r"UnsupportedOperation|InvalidArgument",
        "the storage provider does not support something rclone asked for (a header, "
        "storage class, checksum or upload size)",
        "pick the destination's exact provider (so rclone uses its quirks), drop custom "
        "storage-class/ACL flags, and update rclone with Install Rclone",
    ),
    # -- rclone's own outcomes ---------------------------------------------------------------
    Entry(
        "source_changed",
        "other",
        r"source file is being updated|corrupted on transfer",
        "a file changed while rclone was copying it, so the copy was not kept",
        "back up live databases from a dump or snapshot instead of the open file; the next "
        "run copies a stable file",
    ),
    Entry(
        "max_transfer",
        "other",
        r"[Mm]ax transfer limit reached|[Mm]ax duration reached",
        "rclone stopped at the job's --max-transfer / --max-duration limit",
        "raise or remove the limit, or let the next runs continue where this one stopped",
    ),
    Entry(
        "is_a_file_trap",
        "access_denied",
        r"Failed to create file system for (?:destination )?\"(?P<remote>[\w.-]+:[^\"]*)\": "
        r"is a file not a directory",
        "rclone could not read the destination {remote}: its HEAD request failed and rclone "
        "reports that as 'is a file not a directory'. No file is in the way: the storage "
        "refused the credentials (wrong secret, unknown access key ID, or a key without "
        "access to this bucket), or the endpoint could not be reached",
        "re-enter the access key ID and secret and check the endpoint, "
        + _TEST
        + "; `rclone lsd REMOTE: -vv` shows the storage's real answer",
        weak=True,
    ),
    Entry(
        "bare_dir_not_found",
        "bucket_missing",
        r"(?:^|: )directory not found$",
        "rclone reported 'directory not found': the bucket or folder it was pointed at does "
        "not exist",
        "check the bucket name and prefix (and the source path) of the job",
        weak=True,
    ),
    Entry(
        "http_403",
        "access_denied",
        r"\bForbidden\b|StatusCode: 403\b|status code: 403\b|\(403\b",
        "the storage answered 403 Forbidden: the credentials are wrong or lack permission",
        "re-enter the access key ID and secret and check the key's permissions, " + _TEST,
        weak=True,
    ),
    Entry(
        "http_503",
        "rate_limit",
        r"ServiceUnavailable|StatusCode: 503\b|status code: 503\b",
        "the storage answered 503 Service Unavailable (overloaded or throttling)",
        "usually transient: lower --transfers/--checkers and run the job again",
        weak=True,
    ),
)

# Why the runner (ctrlops-run) ended a run before or beside rclone's own outcome, from the
# ``reason=KIND:ARG`` of its status record: KIND -> (category, cause, fix); ``{arg}`` is the
# text after the first colon (a path, mostly).
REASONS: dict[str, tuple[str, str, str]] = {
    "source_missing": (
        "source_missing",
        "the source path {arg} does not exist on the server",
        "check the job's --source for a typo (paths are case-sensitive); nothing was "
        "copied and nothing at the destination was touched",
    ),
    "source_empty": (
        "source_missing",
        "the source path {arg} is empty; a mirror of it would have deleted everything at "
        "the destination, so the run stopped",
        "check that the disk or mount holding {arg} is mounted",
    ),
    "binary_missing": (
        "binary_missing",
        "rclone is not installed where the runner looks (~/.ctrlops/bin or cron's PATH)",
        "use the Install Rclone fix: `ctrlops server fix SERVER install-rclone`",
    ),
    "config_error": (
        "config_error",
        "the job's files on the server are incomplete ({arg})",
        "redeploy the job: `ctrlops job deploy NAME`",
    ),
    # The runner probes for room before and after each rclone (runner version 6): rclone
    # itself ignores a log it cannot write and may exit 0 having logged nothing.
    "disk_full": (
        "local_resource",
        "the disk holding {arg} on the server is full: the backup had no room for its log "
        "and status record, so the run cannot show what it copied (it is not counted as a "
        "backup)",
        "free space on that disk (`df -h {arg}` on the server; `du -sh "
        "~/.ctrlops/jobs/*/runs` shows what old run logs take), confirm with `ctrlops "
        "server check SERVER` (its disk banner), then run the job again",
    ),
    "log_incomplete": (
        "local_resource",
        "rclone could not write its whole log {arg}: the disk filled up during the run "
        "(and was freed again), so the run cannot show what it copied",
        "find what fills the disk holding ~/.ctrlops (`df -h`, `du -sh "
        "~/.ctrlops/jobs/*/runs`) and free space, confirm with `ctrlops server check "
        "SERVER` (its disk banner), then run the job again",
    ),
}

# What a run's record and log say when they cannot vouch for a backup: id -> (category,
# cause, fix).
RECORD_PROBLEMS: dict[str, tuple[str, str, str]] = {
    # Not a byte of the status record was written (runners before version 6 leave it so on
    # a full disk; version 6 says disk_full wherever an empty file still fits).
    "empty_record": (
        "local_resource",
        "the run left an empty status record on the server: there was no room to write it, "
        "almost always because the disk holding ~/.ctrlops is full",
        "free space on the server's disk (`df -h ~/.ctrlops`; `du -sh ~/.ctrlops/jobs/*/runs` "
        "shows what old run logs take), confirm with `ctrlops server check SERVER` (its disk "
        "banner), then run the job again",
    ),
    # The record says success but the log holds not one summary from rclone (rclone writes
    # one as it exits, whatever happened): the log was never written, or deleted since.
    "no_summary": (
        "local_resource",
        "the runner recorded a success, but the run's log holds no summary from rclone, so "
        "nothing shows what was copied: the log could not be written (a full disk on the "
        "server is the usual cause) or was deleted",
        "check free space on the server (`df -h ~/.ctrlops`, `ctrlops server check SERVER` "
        "shows the disk banner), update the runner if the server check says it is outdated, "
        "then run the job again",
    ),
}

# Lines that look alarming but are not failures.
HARMLESS: tuple[str, ...] = (
    r"Config file \"[^\"]*\" not found - using defaults",
    r"There was nothing to transfer",
    r"Attempt \d+/\d+ succeeded",
    r"Can't transfer non file/directory",
    r"Can't follow symlink without -L",
)
