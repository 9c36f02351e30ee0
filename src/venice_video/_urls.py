"""URL helpers that need only the standard library (the journal uses them too)."""

from __future__ import annotations

import urllib.parse

__all__ = ["clean_url"]


def clean_url(url: str) -> str:
    """`url` without credentials, query, fragment or a trailing slash.

    What is stored with a job, and how two API roots are compared: nothing secret survives
    (`user:password@`, a signed query), and `http://h/api/v1/` equals `http://h/api/v1`.
    """
    parts = urllib.parse.urlsplit(url.strip())
    netloc = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
