"""A local web gallery of generated videos: watch, compare, filter, re-run and start new ones.

`venice-video ui` serves it on 127.0.0.1; `create_app` builds the same ASGI app around any
`AsyncVeniceVideo` client, to serve or test it yourself:

```python
from venice_video import AsyncVeniceVideo
from venice_video.ui import create_app

app = create_app(AsyncVeniceVideo(), output_dir="videos")   # serve with uvicorn
```

See docs/ui.md for the page, its endpoints and its safety rules.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import webbrowser
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette

from .._async_client import AsyncVeniceVideo
from ._app import build_app
from ._config import GalleryConfig, new_token
from ._guard import LOOPBACK_HOSTS
from ._uploads import DEFAULT_MAX_UPLOAD_BYTES

if TYPE_CHECKING:
    from .._settings import Settings

__all__ = ["DEFAULT_PORT", "create_app", "run"]

#: The port `venice-video ui` listens on unless told otherwise.
DEFAULT_PORT = 8765
#: The folder, under the output folder, where files given to the form are kept.
UPLOADS_FOLDER = "uploads"


def create_app(
    client: AsyncVeniceVideo,
    *,
    output_dir: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None = None,
    max_cost: float | None = None,
    default_model: str | None = None,
    local_engine: bool = False,
    allowed_hosts: Iterable[str] | None = LOOPBACK_HOSTS,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    csrf_token: str | None = None,
    resume_on_start: bool = True,
    close_client: bool = False,
) -> Starlette:
    """The gallery as an ASGI app, over the client's journal and an output folder.

    Jobs started from the page run in the app's task group while it runs (its lifespan);
    unfinished jobs started from the gallery are resumed when it starts again.

    Args:
        client: the SDK client. It must keep a journal (the gallery lists it).
        output_dir: where new videos are saved; uploads go to its `uploads/` folder.
        cache_dir: where posters and previews are kept; by default the user cache folder.
        max_cost: refuse any generation whose quote is over this many USD.
        default_model: the model the form starts on.
        local_engine: the client talks to the embedded local engine (free sample clips are
            offered on an empty gallery).
        allowed_hosts: host names accepted in the `Host` header (DNS-rebinding protection);
            `None` accepts any, for a gallery bound to every interface on purpose.
        max_upload_bytes: the largest file the form takes.
        csrf_token: the token state-changing requests must carry; a random one by default.
        resume_on_start: drive the gallery's unfinished jobs when the app starts.
        close_client: close the client when the app stops.

    Raises:
        ValueError: the client keeps no journal.
    """
    if client.journal is None:
        raise ValueError("the gallery needs a client with a journal (journal=False)")
    out = Path(output_dir).expanduser().absolute()
    if cache_dir is None:
        import platformdirs

        cache = Path(platformdirs.user_cache_dir("venice-video")) / "ui"
    else:
        cache = Path(cache_dir)
    config = GalleryConfig(
        output_dir=out,
        cache_dir=cache,
        upload_dir=out / UPLOADS_FOLDER,
        token=csrf_token or new_token(),
        max_cost=max_cost,
        default_model=default_model,
        local_engine=local_engine,
        allowed_hosts=frozenset(allowed_hosts) if allowed_hosts is not None else None,
        max_upload_bytes=max_upload_bytes,
        resume_on_start=resume_on_start,
        close_client=close_client,
    )
    return build_app(client, config)


def _is_any_interface(host: str) -> bool:
    return host in ("0.0.0.0", "::", "")


def run(
    *,
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    open_browser: bool = False,
) -> None:
    """Serve the gallery until interrupted (Ctrl+C).

    Without an API key or base URL in `settings`, the embedded local engine is started for
    the gallery's lifetime, so it works (with placeholder videos) out of the box.

    Args:
        settings: the settings in force (API key, base URL, journal, output folder, max cost).
        host: the interface to listen on; keep the loopback default unless others must reach
            the gallery (they could then spend from your account).
        port: the TCP port.
        open_browser: open the page in the default browser once it is served.
    """
    import uvicorn

    from .._settings import endpoint
    from ._serve import uvicorn_config

    # httpx logs every request URL at INFO, pre-signed download links included.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    allowed: frozenset[str] | None
    if _is_any_interface(host):
        allowed = None
        print(
            "warning: the gallery is reachable from other machines and can spend from the "
            "account; bind 127.0.0.1 unless that is intended",
            file=sys.stderr,
        )
    else:
        allowed = LOOPBACK_HOSTS | {host.lower().strip("[]")}
    with endpoint(settings) as api:
        if api.is_local:
            print(
                f"No VENICE_API_KEY set: using the local engine at {api.base_url} "
                "(placeholder videos for development, not AI video)",
                file=sys.stderr,
            )
        client = AsyncVeniceVideo(**api.client_kwargs(settings))
        app = create_app(
            client,
            output_dir=settings.output_dir,
            max_cost=settings.max_cost,
            default_model=settings.model,
            local_engine=api.is_local,
            allowed_hosts=allowed,
            close_client=True,
        )
        server = uvicorn.Server(uvicorn_config(app, host=host, port=port))
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{'127.0.0.1' if _is_any_interface(host) else shown}:{port}/"
        threading.Thread(
            target=_announce, args=(server, url, open_browser), daemon=True, name="ui-announce"
        ).start()
        server.run()


def _announce(server: Any, url: str, open_browser: bool) -> None:
    for _ in range(6000):
        if server.started:
            break
        if server.should_exit:
            return
        time.sleep(0.01)
    else:
        return
    print(f"Gallery at {url} (Ctrl+C to stop)", file=sys.stderr)
    if open_browser:
        webbrowser.open(url)
