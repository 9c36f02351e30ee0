"""The errors of the media room.

```
VeniceVideoError
└── MediaError (also ValueError)      .source; not media, no such stream, cannot be decoded
    ├── MediaVerificationError        .reason; not a complete, playable MP4
    └── AssemblyError                 .clip; a film's shot or soundtrack cannot be used
```

A missing optional dependency is an `ImportError` whose message names the extra to install.
"""

from __future__ import annotations

from typing import Final

from .._exceptions import VeniceVideoError

__all__ = ["AV_HINT", "AssemblyError", "Invalid", "MediaError", "MediaVerificationError"]

AV_HINT: Final = "PyAV is needed for this: pip install 'venice-video[media]'"


class MediaError(VeniceVideoError, ValueError):
    """Media that cannot be used: not a media file, no stream of the kind asked for, or data
    that cannot be decoded. The message names the input and says why.

    Attributes:
        source: the file or input name the error is about.
    """

    def __init__(self, message: str, *, source: str = "") -> None:
        super().__init__(message)
        self.source = source


class MediaVerificationError(MediaError):
    """The file is not a complete, playable MP4 (see `venice_video.media.verify`).

    Attributes:
        reason: why, in words, without the file name (e.g. "the 'mdat' box at byte 40 needs
            9000 bytes but only 512 remain: the file is truncated").
    """

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source} is not a complete, playable MP4: {reason}", source=source)
        self.reason = reason


class AssemblyError(MediaError):
    """A film could not be assembled (see `venice_video.media.assemble`): a shot or the
    soundtrack is missing, unreadable or cannot be decoded, or the film written does not
    check out. The message names the clip and file.

    Attributes:
        clip: the index of the clip at fault, when one is.
    """

    def __init__(self, message: str, *, clip: int | None = None) -> None:
        super().__init__(message)
        self.clip = clip


class Invalid(Exception):
    """Why a file failed verification, in words. Raised inside the package only; `verify`
    turns it into a `MediaVerificationError`."""
