"""How commands and files reach a server: SSH (asyncssh) or this machine (subprocess)."""

from ctrlops.remote.base import Remote, Result

__all__ = ["Remote", "Result"]
