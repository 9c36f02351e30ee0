"""Deterministic placeholder media for the local server.

No generative model runs here. Instead :func:`render` writes a real H.264/AAC mp4 with exactly
the requested size, frame rate and duration, so that clients, players and tests see the same kind
of file the hosted service returns. The picture is a placeholder, and says so in a corner label:

* text-to-video: moving gradients and soft shapes whose palette and motion come from the prompt;
* image-to-video: the image, cover-fitted, first as it is and then slowly zooming into a part
  of it (Ken Burns), optionally cross-fading to an end image. The first frame is the image, so
  a clip made from another clip's last frame starts where that one ended;
* video-to-video: the input restyled (tone curve, posterize, tint), looped or trimmed;
* upscale: every input frame rescaled with Lanczos, keeping the input's frame count and rate.

The same :class:`RenderSpec` always gives the same bytes (x264 runs with a fixed thread count).
Frames are painted straight into the planes of yuv420p frames with vectorised numpy, a second
thread paints while x264 encodes, and every static overlay (caption, label, thumbnails) is
rasterised once: a 5 s 720p clip with sound takes about 0.7 to 1 s on two cores, most of it in
the encoder (``benchmarks/bench_render.py`` measures it). The caption and label fade out over
the last quarter second (and in over the first, for a clip made from an image), so a last
frame carries no caption into the next clip.

Modules: ``_spec`` (what to render), ``_geometry`` (sizes), ``_planes`` (frames, colour,
sprites), ``_decode`` (inputs, probing), ``_sound``, ``_encode`` (the mp4 writer),
``_sources`` (picture sources, a ``Source`` protocol), ``_overlays`` and ``_engine``
(``render`` itself).
"""

from ...media import MediaInfo
from ._decode import probe
from ._engine import render
from ._geometry import ASPECT_RATIOS, RESOLUTIONS, dimensions_for, dimensions_for_image
from ._spec import RenderError, RenderResult, RenderSpec

__all__ = [
    "ASPECT_RATIOS",
    "RESOLUTIONS",
    "MediaInfo",
    "RenderError",
    "RenderResult",
    "RenderSpec",
    "dimensions_for",
    "dimensions_for_image",
    "probe",
    "render",
]
