"""Embedded parts for `ctrlops demo` and the test bed: a local S3 server on loopback."""
