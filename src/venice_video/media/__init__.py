"""Media work: probing, verifying, frames and audio of video files.

```python
from venice_video import media

info = media.verify("clip.mp4")         # complete and playable, or MediaVerificationError
frame = media.last_frame("clip.mp4")    # a Frame: .image (Pillow), .png(), .time_s
wav = media.extract_audio(Path("clip.mp4"))
```

Importing this package is cheap and needs only the standard library: PyAV, Pillow and numpy
(the `[media]` extra) are imported by the functions that use them, which raise an
`ImportError` naming the extra when they are missing. `verify` and the sniffing helpers work
without them.

Each operation lives in its own private module (`_probe`, `_verify`, `_frames`, `_audio`,
...) and is exported here.
"""

from ._audio import AudioInfo, extract_audio, probe_audio
from ._av import MediaSource
from ._errors import MediaError, MediaVerificationError
from ._frames import Frame, first_frame, frame_at, last_frame
from ._info import MediaInfo
from ._preview import webm_preview
from ._probe import probe
from ._sniff import sniff_audio_format, sniff_mime
from ._verify import Decode, verify

__all__ = [
    "AudioInfo",
    "Decode",
    "Frame",
    "MediaError",
    "MediaInfo",
    "MediaSource",
    "MediaVerificationError",
    "extract_audio",
    "first_frame",
    "frame_at",
    "last_frame",
    "probe",
    "probe_audio",
    "sniff_audio_format",
    "sniff_mime",
    "verify",
    "webm_preview",
]

# Reprs, pickles and tracebacks name the public home of the result types and errors.
for _public in (AudioInfo, Frame, MediaError, MediaInfo, MediaVerificationError):
    _public.__module__ = __name__
del _public
