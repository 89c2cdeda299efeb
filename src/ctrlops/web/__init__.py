"""The web UI: a thin FastAPI + Jinja2 + htmx layer over the same services as the CLI."""
