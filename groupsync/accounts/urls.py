"""Store URLs: which backend a --store value names, and how to show it without a password."""

from __future__ import annotations

import re


def is_postgres_url(store: str) -> bool:
    return store.startswith(("postgresql://", "postgres://"))


def is_http_url(store: str) -> bool:
    return store.startswith(("http://", "https://"))


def redact(url: str) -> str:
    """The URL without its password, for every message."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)
