"""Provenance: every video this tool makes says that it is synthetic and what made it.

Three layers, from the most to the least robust:

* :mod:`.watermark` -- an invisible, keyed spread-spectrum watermark in the frames (face
  coordinates, 2 Hz temporal modulation), detected over the whole clip; survives H.264
  re-encoding, downscaling and cropping (measured in ``docs/provenance.md``). Carries a 48-bit
  payload (tool, version, 32-bit job code) protected by a CRC-16.
* :mod:`.c2pa_manifest` -- a signed C2PA manifest (Content Credentials) declaring the video
  AI-generated (``trainedAlgorithmicMedia``), with the user's certificate; tamper-evident.
* :mod:`.metadata` -- container tags (generator, version, synthetic, script hash, time, job id,
  watermark on/off); easy to strip, easy to read.

Plus :mod:`.audio_watermark` (Perth, 1-bit presence mark in the speech track; imported on demand
because importing it costs seconds) and :mod:`.label`, a visible "AI-generated" label on request. ``talkinghead verify VIDEO``
(:mod:`talkinghead.commands.verify`) checks all three.

The pipeline's calls::

    job_id = new_job_id()
    marker = Watermarker(make_payload(job_id), fps)          # per video
    frame = marker.mark(frame, track.landmarks[t])          # per frame, after blending
    VideoWriter(out, fps, metadata=build_metadata(script, job_id, watermark=True), ...)
    sign_c2pa(out, cert, key, manifest=build_manifest(...)) # optional, atomic
"""

from .c2pa_manifest import C2paReport, build_manifest, c2pa_available, make_test_credentials, read_c2pa, sign_c2pa
from .label import draw_label, face_box_from_landmarks
from .metadata import build_metadata, is_marked_synthetic, read_metadata, script_sha256
from .watermark import (
    Detection,
    PayloadInfo,
    Watermarker,
    detect,
    embed,
    job_code,
    make_payload,
    new_job_id,
    parse_payload,
)

__all__ = [
    "C2paReport", "Detection", "PayloadInfo", "Watermarker", "build_manifest", "build_metadata",
    "c2pa_available", "detect", "draw_label", "embed", "face_box_from_landmarks",
    "is_marked_synthetic", "job_code", "make_payload", "make_test_credentials", "new_job_id",
    "parse_payload", "read_c2pa", "read_metadata", "script_sha256", "sign_c2pa",
]
