"""The `venice-video` command line: generate, quote, batch, transcribe, serve and more.

```
venice-video generate "A gondola at dawn" -d 5s -r 720p -o gondola.mp4
```

See docs/cli.md for every command, its exit codes and its configuration.
"""

from __future__ import annotations

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `venice-video` command."""
    import sys

    from . import _fast

    args = list(sys.argv[1:] if argv is None else argv)
    if _fast.try_fast(args):
        return
    try:
        from ._app import main as app_main
    except ImportError as error:  # the [cli] extra is missing
        missing = error.name or "a dependency"
        print(
            f"venice-video: the command line needs {missing}, which is not installed.\n"
            "Install it with: pip install 'venice-video[cli]'",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    with _fast.recording(args):
        app_main(args)
