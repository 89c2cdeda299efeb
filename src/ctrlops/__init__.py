"""ctrlops: agentless, verifiable backups of Linux servers to S3-compatible storage."""

__version__ = "0.1.0"
