"""Use cases shared by the CLI and the web UI; the only layer they call."""
