"""Media work: probing, verifying, frames and audio of video files, and films of many shots.

```python
from venice_video import media

info = media.verify("clip.mp4")         # complete and playable, or MediaVerificationError
frame = media.last_frame("clip.mp4")    # a Frame: .image (Pillow), .png(), .time_s
wav = media.extract_audio(Path("clip.mp4"))

spec = media.FilmSpec(1280, 720, Fraction(24), clips=(
    media.Clip(Path("a.mp4"), transition=media.Transition("crossfade", 0.5)),
    media.Clip(Path("b.mp4")),
))
film = media.assemble(spec, Path("film.mp4"))   # an AssemblyResult: .path, .duration, .placed
```

Importing this package is cheap and needs only the standard library: PyAV, Pillow and numpy
(the `[media]` extra) are imported by the functions that use them, which raise an
`ImportError` naming the extra when they are missing. `verify` and the sniffing helpers work
without them.

Each operation lives in its own private module (`_probe`, `_verify`, `_frames`, `_audio`,
...) and is exported here. Film assembly (`assemble`, `timeline`: shots joined by cuts,
crossfades and fades, with joined sound, a soundtrack and captions; see `_assemble`) is what
`venice_video.story` builds its films with.
"""

from ._assemble import (
    AssemblyResult,
    Clip,
    Cue,
    FilmSpec,
    PlacedClip,
    Soundtrack,
    Transition,
    assemble,
    probe_duration,
    timeline,
)
from ._audio import AudioInfo, extract_audio, probe_audio
from ._av import MediaSource
from ._errors import AssemblyError, MediaError, MediaVerificationError
from ._frames import Frame, first_frame, frame_at, last_frame
from ._info import MediaInfo
from ._preview import webm_preview
from ._probe import probe
from ._sniff import sniff_audio_format, sniff_mime
from ._verify import Decode, verify

__all__ = [
    "AssemblyError",
    "AssemblyResult",
    "AudioInfo",
    "Clip",
    "Cue",
    "Decode",
    "FilmSpec",
    "Frame",
    "MediaError",
    "MediaInfo",
    "MediaSource",
    "MediaVerificationError",
    "PlacedClip",
    "Soundtrack",
    "Transition",
    "assemble",
    "extract_audio",
    "first_frame",
    "frame_at",
    "last_frame",
    "probe",
    "probe_audio",
    "probe_duration",
    "sniff_audio_format",
    "sniff_mime",
    "timeline",
    "verify",
    "webm_preview",
]

# Reprs, pickles and tracebacks name the public home of the result types and errors.
for _public in (
    AssemblyError,
    AssemblyResult,
    AudioInfo,
    Clip,
    Cue,
    FilmSpec,
    Frame,
    MediaError,
    MediaInfo,
    MediaVerificationError,
    PlacedClip,
    Soundtrack,
    Transition,
):
    _public.__module__ = __name__
del _public
