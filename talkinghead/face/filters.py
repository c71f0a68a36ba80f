"""One-Euro filter (Casiez et al., CHI 2012), vectorised over channels, applied offline.

The One-Euro filter is an adaptive low-pass filter: at low speed its cutoff is ``min_cutoff``
(removes jitter), and the cutoff rises with the signal's speed (``beta``), so real motion is not
lagged much. Offline we also run it backwards in time and average both passes
(``bidirectional=True``): the forward pass lags, the backward pass leads by the same amount, so
the average has almost no lag.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroSettings:
    """Parameters of :func:`one_euro`.

    Attributes:
        min_cutoff: cutoff frequency in Hz at zero speed (lower = smoother when still).
        beta: speed coefficient, Hz per (signal unit / s) (higher = less lag when moving).
        d_cutoff: cutoff in Hz of the filter on the speed estimate.
    """

    min_cutoff: float = 1.0
    beta: float = 0.0
    d_cutoff: float = 1.0


def _alpha(cutoff: np.ndarray | float, rate: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * np.pi * cutoff)
    te = 1.0 / rate
    return 1.0 / (1.0 + tau / te)


def _one_euro_forward(x: np.ndarray, rate: float, s: OneEuroSettings) -> np.ndarray:
    out = np.empty_like(x)
    out[0] = x[0]
    dx_prev = np.zeros_like(x[0])
    a_d = _alpha(s.d_cutoff, rate)
    for t in range(1, len(x)):
        dx = (x[t] - out[t - 1]) * rate
        dx_hat = a_d * dx + (1.0 - a_d) * dx_prev
        cutoff = s.min_cutoff + s.beta * np.abs(dx_hat)
        a = _alpha(cutoff, rate)
        out[t] = a * x[t] + (1.0 - a) * out[t - 1]
        dx_prev = dx_hat
    return out


def one_euro(
    x: np.ndarray,
    rate: float,
    settings: OneEuroSettings,
    *,
    bidirectional: bool = True,
) -> np.ndarray:
    """Filter a sequence along axis 0.

    Args:
        x: ``(T, ...)`` float array; every other axis is an independent channel.
        rate: samples per second (the video's fps).
        settings: filter parameters (units of ``x`` per second for ``beta``).
        bidirectional: average a forward and a backward pass (no lag; offline only).

    Returns:
        Filtered array, same shape, float64.
    """
    a = np.asarray(x, dtype=np.float64)
    if a.shape[0] < 2:
        return a.copy()
    flat = a.reshape(a.shape[0], -1)
    fwd = _one_euro_forward(flat, rate, settings)
    if bidirectional:
        bwd = _one_euro_forward(flat[::-1], rate, settings)[::-1]
        fwd += bwd  # in place: no whole-sequence temporaries (long videos)
        del bwd
        fwd *= 0.5
    return fwd.reshape(a.shape)
