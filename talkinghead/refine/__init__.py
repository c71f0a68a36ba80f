"""Refine stage: a GAN refiner (U-Net generator + PatchGAN) turns the rendered lower-face
conditioning into a photoreal mouth/jaw crop, blended seamlessly back into the frame.

Typical use (per face, then per output chunk)::

    from talkinghead.refine import prepare_face
    face = prepare_face("speaker.mp4")                      # track + fine-tune (cached)
    meshes = deform_lower_face(face.track, params, frame_index)
    rendered = render_frames(meshes, face.resolution)
    out_frames = face.refine_frames(source_frames, meshes, rendered)
"""

from .composite.blend import blend, blend_alpha, extract_crops, hole_mask
from .infer import GENERIC_WEIGHTS, Refiner
from .model import RefinerConfig
from .prepare import PreparedFace, PrepareSettings, prepare_face

__all__ = [
    "GENERIC_WEIGHTS",
    "PrepareSettings",
    "PreparedFace",
    "Refiner",
    "RefinerConfig",
    "blend",
    "blend_alpha",
    "extract_crops",
    "hole_mask",
    "prepare_face",
]
