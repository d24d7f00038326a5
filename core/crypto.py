"""Secrets at rest (provider API keys): Fernet with a key derived from the server's secret."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from core.settings import get_settings


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"cozeplus/secrets-at-rest/v1:" + get_settings().secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str | None:
    """None when the secret changed since encryption (the value must be entered again)."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return None


def hint(plaintext: str) -> str:
    """What may be shown of a secret: its first and last characters."""
    return f"{plaintext[:3]}...{plaintext[-4:]}" if len(plaintext) > 10 else "..."
