"""Backup jobs: deploy them to a server, read back what ran, decide what it means."""
