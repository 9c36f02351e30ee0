"""Logging: the names venice-video logs under, and the guard on httpx's own request log.

httpx logs every request at INFO as `HTTP Request: GET <url> "HTTP/1.1 200 OK"`, the whole
URL included. A pre-signed `download_url` carries its signature in the query, so anyone
who turns INFO on for everything would write a working download link to their logs. Each
client installs `RedactQueries` on the `httpx` logger (once per process) so that query
strings never reach a handler. Strictly private; see docs/logging.md.
"""

from __future__ import annotations

import logging
import threading

import httpx

__all__ = ["LOGGERS", "RedactQueries", "guard_httpx_log"]

#: Every logger venice-video writes to, with what it says.
LOGGERS = {
    "venice_video": "the SDK: retries, resumes, catalog fallbacks, cleanup failures",
    "venice_video.server": "the local server: jobs, renders, refused requests",
    "venice_video.mcp_server": "the MCP server: background jobs and their ends",
    "venice_video.ui": "the gallery: background jobs, media previews",
}

_installed = False
_lock = threading.Lock()


class RedactQueries(logging.Filter):
    """Replaces the query of every `httpx.URL` argument of a record with `?[redacted]`."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(_has_query(a) for a in args):
            record.args = tuple(_redacted(a) if _has_query(a) else a for a in args)
        return True


def guard_httpx_log() -> None:
    """Install `RedactQueries` on the `httpx` logger, once."""
    global _installed
    with _lock:
        if _installed:
            return
        logging.getLogger("httpx").addFilter(RedactQueries())
        _installed = True


def _has_query(value: object) -> bool:
    return isinstance(value, httpx.URL) and bool(value.query)


def _redacted(value: object) -> object:
    if not isinstance(value, httpx.URL):
        return value
    return f"{value.copy_with(query=None)}?[redacted]"
