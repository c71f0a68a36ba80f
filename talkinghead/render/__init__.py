"""Render stage: the deformed lower-face mesh as conditioning images (normals, masks).

Main entry points: :func:`render_frames` (deformed meshes -> :class:`RenderedFrames`) and
:func:`render_track` (deform + render).
"""

from .renderer import render_frames, render_track
from .types import CropBox, RenderedFrames

__all__ = ["CropBox", "RenderedFrames", "render_frames", "render_track"]
