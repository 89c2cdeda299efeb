"""Provider-specific refinements of a fix (data only): (category, provider) -> hint.

Provider names are ctrlops's (``aws``, ``r2``, ``b2``, ``wasabi``, ``minio``, ``spaces``,
``s3``); see :mod:`ctrlops.rclone.providers`.
"""

from __future__ import annotations

HINTS: dict[tuple[str, str], str] = {
    ("auth_secret", "r2"): "R2: use the Access Key ID and Secret Access Key shown when the R2 "
    "API token was created (R2 -> Manage R2 API Tokens), not the token value itself",
    ("auth_key_unknown", "r2"): "R2: the endpoint must be https://<ACCOUNT_ID>."
    "r2.cloudflarestorage.com with YOUR account ID (--account-id); a key is unknown under "
    "another account's endpoint",
    ("dns", "r2"): "R2: the endpoint is https://<ACCOUNT_ID>.r2.cloudflarestorage.com; a "
    "missing or mistyped account ID gives a host name that does not exist",
    ("access_denied", "r2"): "R2: the API token needs 'Object Read & Write' on this bucket",
    ("access_denied", "b2"): "B2: the application key needs listBuckets, listFiles, "
    "readFiles and writeFiles (deleteFiles for mirror); a key restricted to one bucket "
    "works only for that bucket and cannot create buckets",
    ("auth_key_unknown", "b2"): "B2: use the application keyID (not the account ID) and an "
    "endpoint of the key's region, s3.<region>.backblazeb2.com",
    ("quota", "b2"): "B2: raise the storage or transaction caps in Caps & Alerts",
    ("bucket_missing", "b2"): "B2: a bucket-restricted key sees only its own bucket",
    ("wrong_region", "aws"): "AWS answers PermanentRedirect or AuthorizationHeaderMalformed "
    "when the region differs from the bucket's; the bucket's region is on its S3 console "
    "page",
    ("wrong_region", "wasabi"): "Wasabi: endpoints are regional, s3.<region>.wasabisys.com "
    "(e.g. s3.eu-central-1.wasabisys.com) must match the bucket's region",
    ("wrong_region", "spaces"): "DigitalOcean Spaces: the endpoint is <region>."
    "digitaloceanspaces.com (nyc3, ams3, sgp1, fra1 ...) and must match the Space's region",
    ("wrong_region", "b2"): "B2: the endpoint s3.<region>.backblazeb2.com must be the "
    "bucket's region (Bucket Details -> Endpoint)",
    ("auth_secret", "wasabi"): "Wasabi: a bucket in another region can also fail this way; "
    "use the bucket's regional endpoint",
    ("access_denied", "aws"): "AWS: the IAM policy must allow s3:ListBucket on "
    "arn:aws:s3:::BUCKET and s3:GetObject/s3:PutObject (s3:DeleteObject for mirror) on "
    "arn:aws:s3:::BUCKET/*",
    ("provider_incompat", "r2"): "R2 does not support every S3 header (storage classes, "
    "ACLs); choose provider r2 so rclone leaves them out",
    ("provider_incompat", "b2"): "B2's S3 API has no ACLs or storage classes; choose provider b2",
}
