"""Compositing: the refiner's crops put back into the frames (apart from the model).

* :mod:`.blend` - crops, masks, feathered alphas, the warp back into the frame, seam colour matching;
* :mod:`.anchor` - the refiner's coarse colours pulled back towards the face's own;
* :mod:`.detail` - the source frame's fine skin detail carried onto the rebuilt skin;
* :mod:`.retrieve` - real mouths (the person's own, or shipped open mouths) pasted over the lips;
* :mod:`.compositor` - :class:`~.compositor.Compositor`, every step in order for a chunk of frames.
"""
