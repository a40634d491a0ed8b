#!/usr/bin/python3
"""Small ONNX graphs whose int8 rewrite (quantize.py) must reproduce the float result exactly.

Inputs are integers k in [0, 255] mapped to (k - 100) * 0.05 (both ends present, so the dynamic
range gives that scale and zero point), and weights are integers in [-127, 127] times a scale per
output channel (with +-127 present in each), so quantisation loses nothing and the int8 graph
differs from the float one only by float rounding. A mistake in scales, zero points, layouts,
transposes, bias broadcasting or the per-channel orientation shows up as a large difference.
For each case writes <name>.onnx, <name>-int8.onnx, <name>.input.f32 and an entry in cases.json
(test/export/quantize.test.ts runs both with onnxruntime-node).

  python3 tools/export/make_quantize_cases.py OUT_DIR
"""
import json
import os
import sys
from typing import Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import quantize  # noqa: E402

RNG = np.random.default_rng(7)


def exact_input(shape: Tuple[int, ...]) -> np.ndarray:
    k = RNG.integers(0, 256, size=shape)
    flat = k.reshape(-1)
    flat[0], flat[1] = 0, 255
    return ((k - 100) * 0.05).astype(np.float32)


def exact_weight(shape: Tuple[int, ...], axis: int) -> np.ndarray:
    """Integers in [-127, 127] with +-127 in every slice along `axis`, times a scale per slice."""
    q = RNG.integers(-127, 128, size=shape)
    moved = np.moveaxis(q, axis, 0).reshape(shape[axis], -1)
    moved[:, 0] = 127 * np.where(RNG.random(shape[axis]) < 0.5, 1, -1)
    q = np.moveaxis(moved.reshape([shape[axis]] + [d for i, d in enumerate(shape) if i != axis]), 0, axis)
    scales = (0.001 * (1 + np.arange(shape[axis]))).astype(np.float64)
    view = [1] * len(shape)
    view[axis] = shape[axis]
    return (q * scales.reshape(view)).astype(np.float32)


def model(nodes: List[onnx.NodeProto], inits: Dict[str, np.ndarray], x_shape: Tuple[int, ...], y_rank: int, name: str) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [None] * y_rank)],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def cases() -> List[Tuple[str, onnx.ModelProto, Tuple[int, ...]]]:
    out: List[Tuple[str, onnx.ModelProto, Tuple[int, ...]]] = []
    # MatMul on a 3-D activation with a [K, N] weight (per column scales).
    w = exact_weight((96, 80), axis=1)
    out.append(("matmul3d", model([helper.make_node("MatMul", ["input", "W"], ["output"])], {"W": w}, (2, 5, 96), 3, "matmul3d"), (2, 5, 96)))
    # Gemm with transB and a bias (weights of at least 4096 values are quantised).
    b = exact_weight((48, 96), axis=0)
    c = RNG.standard_normal(48).astype(np.float32)
    out.append(("gemm", model([helper.make_node("Gemm", ["input", "B", "C"], ["output"], transB=1)], {"B": b, "C": c}, (3, 96), 2, "gemm"), (3, 96)))
    # Two MatMuls sharing one quantised activation, then added.
    w1, w2 = exact_weight((96, 64), axis=1), exact_weight((96, 64), axis=1)
    nodes = [
        helper.make_node("MatMul", ["input", "W1"], ["a"]),
        helper.make_node("MatMul", ["input", "W2"], ["b"]),
        helper.make_node("Add", ["a", "b"], ["output"]),
    ]
    out.append(("shared", model(nodes, {"W1": w1, "W2": w2}, (4, 96), 2, "shared"), (4, 96)))
    # 2-D convolution, padding 1, stride 1, bias (per output channel scales).
    wc = exact_weight((12, 8, 3, 3), axis=0)
    bc = RNG.standard_normal(12).astype(np.float32)
    conv = helper.make_node("Conv", ["input", "W", "B"], ["output"], pads=[1, 1, 1, 1], kernel_shape=[3, 3])
    out.append(("conv2d", model([conv], {"W": wc, "B": bc}, (2, 8, 9, 9), 4, "conv2d"), (2, 8, 9, 9)))
    # 1-D strided, dilated convolution without bias.
    w1d = exact_weight((10, 32, 3), axis=0)
    conv1d = helper.make_node("Conv", ["input", "W"], ["output"], strides=[2], dilations=[2], kernel_shape=[3])
    out.append(("conv1d", model([conv1d], {"W": w1d}, (2, 32, 25), 3, "conv1d"), (2, 32, 25)))
    return out


def main() -> int:
    folder = sys.argv[1]
    os.makedirs(folder, exist_ok=True)
    listing = []
    for name, m, shape in cases():
        path = os.path.join(folder, f"{name}.onnx")
        onnx.save(m, path)
        stats = quantize.quantize_file(path, os.path.join(folder, f"{name}-int8.onnx"), conv=True)
        exact_input(shape).astype("<f4").tofile(os.path.join(folder, f"{name}.input.f32"))
        listing.append({"name": name, "shape": list(shape), "quantised": {k: stats[k] for k in ("matmul", "gemm", "conv")}})
    with open(os.path.join(folder, "cases.json"), "w", encoding="utf-8") as f:
        json.dump(listing, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
