"""Reading a channel's secret from the environment variable or file its profile names."""

import os
from pathlib import Path

from hitl_cli.models.notifications import SecretSource


class SecretMissing(Exception):
    """The secret is unset, empty or unreadable; the message waits for someone to provide it."""


def read_secret(source: SecretSource, profile_folder: Path) -> str:
    if source.env is not None:
        value = os.environ.get(source.env, "").strip()
        if not value:
            raise SecretMissing(f"secret {source.env} not set (environment variable)")
        return value
    path = profile_folder / source.file
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise SecretMissing(f"secret file {path} not readable: {getattr(error, 'strerror', None) or error}") from None
    if not value:
        raise SecretMissing(f"secret file {path} is empty")
    return value
