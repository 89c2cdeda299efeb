"""Alerts: when a job's state changes for the worse (or recovers), tell someone."""
