"""Secrets at rest: Fernet (AES-128-CBC + HMAC) with a key file kept 0600 beside the store."""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from ctrlops import paths
from ctrlops.errors import CtrlopsError

KEY_FILE = "secret.key"


def _key_path() -> Path:
    return paths.home() / KEY_FILE


def _load_key() -> bytes:
    return paths.private_key(KEY_FILE, Fernet.generate_key)


def encrypt(plaintext: str) -> bytes:
    """Return ``plaintext`` encrypted with this installation's key."""
    return Fernet(_load_key()).encrypt(plaintext.encode())


def decrypt(token: bytes) -> str:
    """Return the plaintext of ``token``.

    Raises :class:`CtrlopsError` when the key file is not the one that encrypted it.
    """
    try:
        return Fernet(_load_key()).decrypt(token).decode()
    except InvalidToken:
        raise CtrlopsError(
            f"a stored secret cannot be decrypted with {_key_path()}",
            "restore the original secret.key, or enter the secret again",
            category="config_error",
        ) from None
