"""Pick the torch device: the GPU where present, the CPU always."""

from __future__ import annotations

from .errors import InputError


def select_device(name: str | None = "auto"):
    """Return a :class:`torch.device` for ``"auto"`` (cuda if available, else cpu), ``"cpu"`` or
    ``"cuda"`` / ``"cuda:N"``.

    Raises:
        InputError: ``cuda`` was asked for but no GPU is usable.
    """
    import torch

    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError("--device cuda: no CUDA GPU is available here (use --device cpu or auto)")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise InputError(f"unknown device {name!r}: use auto, cpu or cuda")
