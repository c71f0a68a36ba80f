"""Training the refiner: reconstruction pairs of a clip (:mod:`.dataset`), the training loop
(:mod:`.train`, also the per-face fine-tuning of :func:`~talkinghead.refine.prepare.prepare_face`),
packed training data (:mod:`.datapack`) and widening a trained generator (:mod:`.widen`). The
tools in ``tools/`` drive them; saying a script needs only :mod:`.dataset`'s condition packing and
mask constants.
"""
