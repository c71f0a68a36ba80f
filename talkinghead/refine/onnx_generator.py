"""The refiner's generator run by ONNX Runtime: the CPU backend where the CPU has no native
bfloat16.

On such a CPU (AVX2 without AVX512-BF16/AMX) torch runs the generator in float32; ONNX
Runtime's float32 kernels run the same network in about 0.8 of torch's time on an idle machine
and about 0.55 when other processes share the cores, where torch's OpenMP threads wait on each
other (``benchmarks/README.md``, "Speed"). The graph is exported from the (batch-norm folded) torch
module when the refiner is first used, in memory (under a second), so fine-tuned weights need no
file of their own.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import torch
from torch import nn


class OnnxGenerator:
    """A generator exported to ONNX and run by an ONNX Runtime CPU session.

    ``generator(x)``: ``x`` float32 tensor ``(B, C, R, R)`` (the network input,
    :func:`~talkinghead.refine.condition.network_input`) -> float32 tensor ``(B, 3, R, R)`` in
    [-1, 1], the same function as the torch module up to float rounding (~1e-5).

    Args:
        generator: the module to export (eval mode; :func:`~talkinghead.refine.model.fused_for_inference`).
        in_channels, resolution: the input's channels ``C`` and side ``R`` (pixels); the batch
            size is free.
        threads: ONNX Runtime's intra-op threads; default: torch's (``torch.get_num_threads()``).
    """

    def __init__(self, generator: nn.Module, in_channels: int, resolution: int, threads: int | None = None):
        import onnxruntime as ort

        example = torch.zeros(1, in_channels, resolution, resolution)
        buf = io.BytesIO()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            torch.onnx.export(generator, example, buf, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=17,
                              dynamo=False)
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or torch.get_num_threads())
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # no busy-waiting between calls: the other stages need the cores in between
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(buf.getvalue(), options, providers=["CPUExecutionProvider"])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = np.ascontiguousarray(x.detach().float().cpu().numpy())
        return torch.from_numpy(self.session.run(None, {"x": x})[0])
