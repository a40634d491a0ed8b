#!/usr/bin/python3
"""Int8 static quantisation of a convolutional ONNX model (the VS ResNet-50) with python3-onnx only.

Static means the activations' ranges are measured once, on calibration inputs, instead of at every
call as in quantize.py's dynamic scheme. The model is written in onnxruntime's QDQ form:

    every float activation that enters a Conv, Add, Relu or MaxPool gets
        QuantizeLinear(scale, zero point; uint8) -> DequantizeLinear
    every Conv weight becomes int8, symmetric per output channel, behind a DequantizeLinear
    every Conv bias becomes int32 with scale (input scale x weight scale), behind a DequantizeLinear

and onnxruntime's graph optimiser fuses DQ -> Conv -> Q into QLinearConv (u8 x s8, the VNNI
kernels on CPUs that have them), DQ -> Add -> Q into QLinearAdd, and drops the Relu before a Q.
Gemm (the small classifier) stays fp32.

Two steps, because onnxruntime (to measure the ranges) is not reachable from Python here:

  python3 tools/export/quantize_static.py expose model.onnx exposed.onnx
      writes a copy whose graph outputs include every activation to quantise (names on stdout,
      one JSON list); run it on calibration inputs and record each output's min and max
      (tools/calibrate.ts does this with onnxruntime-node) as {"name": [min, max], ...};
  python3 tools/export/quantize_static.py quantize model.onnx model-int8s.onnx --ranges ranges.json
"""
import argparse
import json
import os
import sys
from typing import Dict, List, Sequence, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from quantize import save_atomic

# Operators whose float inputs get a Q/DQ pair.
QUANTISED_OPS = ("Conv", "Add", "Relu", "MaxPool")


def activation_tensors(model: onnx.ModelProto, conv_only: bool = False) -> List[str]:
    """The float activations entering QUANTISED_OPS (a Conv's weight and bias excluded), in graph
    order; with conv_only, the input and output of each Conv with constant weights and nothing else
    (for a transformer, whose other operators stay float or are quantised dynamically)."""
    constants = {t.name for t in model.graph.initializer}
    constants |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    names: List[str] = []
    seen = set()
    for node in model.graph.node:
        if conv_only:
            if node.op_type != "Conv" or not plain_conv(model, node):
                continue
            inputs: Sequence[str] = [node.input[0], node.output[0]]
        elif node.op_type not in QUANTISED_OPS:
            continue
        else:
            inputs = node.input[:1] if node.op_type == "Conv" else node.input
        for name in inputs:
            if name and name not in constants and name not in seen:
                seen.add(name)
                names.append(name)
    return names


def plain_conv(model: onnx.ModelProto, node: onnx.NodeProto) -> bool:
    """A convolution worth quantising alone: constant weights, one group, at least 64 inputs per output
    (wav2vec2's first layer, on the raw waveform, and its grouped positional convolution lost most
    accuracy in int8 and are cheap)."""
    weight = next((t for t in model.graph.initializer if t.name == node.input[1]), None)
    if weight is None:
        return False
    group = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "group"), 1)
    return group == 1 and int(np.prod(weight.dims[1:])) >= 64


def expose_file(src: str, dst: str, conv_only: bool = False) -> List[str]:
    model = onnx.load(src)
    names = activation_tensors(model, conv_only)
    outputs = {o.name for o in model.graph.output}
    for name in names:
        if name not in outputs:
            model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    save_atomic(model, dst)
    return names


def uint8_params(low: float, high: float) -> Tuple[float, int]:
    """Scale and zero point mapping [low, high] (widened to hold 0) onto 0..255."""
    low, high = min(0.0, float(low)), max(0.0, float(high))
    scale = (high - low) / 255.0
    if not scale > 0:
        return 1.0, 0
    zero = int(np.clip(np.round(-low / scale), 0, 255))
    return scale, zero


def quantize_static_model(model: onnx.ModelProto, ranges: Dict[str, Sequence[float]], conv_only: bool = False) -> Dict[str, object]:
    """Rewrites `model` in place into QDQ form; returns counts."""
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset < 13:
        raise ValueError(f"opset {opset} is too old for per-channel DequantizeLinear (needs 13 or later)")
    graph = model.graph
    names = activation_tensors(model, conv_only)
    missing = [n for n in names if n not in ranges]
    if missing:
        raise ValueError(f"no calibration range for {len(missing)} activation(s), first {missing[0]}")
    inits = {t.name: t for t in graph.initializer}
    new_inits: List[TensorProto] = []
    replaced = set()
    params: Dict[str, Tuple[float, int]] = {}
    pairs: Dict[str, List[onnx.NodeProto]] = {}
    for name in names:
        scale, zero = uint8_params(*ranges[name][:2])
        params[name] = (scale, zero)
        new_inits.append(numpy_helper.from_array(np.array(scale, dtype=np.float32), f"{name}_qscale"))
        new_inits.append(numpy_helper.from_array(np.array(zero, dtype=np.uint8), f"{name}_qzero"))
        pairs[name] = [
            helper.make_node("QuantizeLinear", [name, f"{name}_qscale", f"{name}_qzero"], [f"{name}_q"], name=f"{name}_Quantize"),
            helper.make_node("DequantizeLinear", [f"{name}_q", f"{name}_qscale", f"{name}_qzero"], [f"{name}_dq"], name=f"{name}_Dequantize"),
        ]
    stats = {"activations": len(names), "conv": 0}
    nodes: List[onnx.NodeProto] = [n for i in graph.input if i.name in pairs for n in pairs[i.name]]
    for node in graph.node:
        # Every reader of a quantised activation reads it through its Q/DQ pair (a Conv's weight and
        # bias are not activations).
        for i, name in enumerate(node.input):
            if name in pairs and not (node.op_type == "Conv" and i > 0):
                node.input[i] = f"{name}_dq"
        if node.op_type == "Conv" and node.input[1] in inits and node.input[0].endswith("_dq"):
            activation = node.input[0][: -len("_dq")]
            nodes.extend(quantise_conv_weights(node, inits, params[activation][0], new_inits, replaced))
            stats["conv"] += 1
        nodes.append(node)
        for out in node.output:
            nodes.extend(pairs.get(out, []))
    del graph.node[:]
    graph.node.extend(nodes)
    kept = [t for t in graph.initializer if t.name not in replaced]
    del graph.initializer[:]
    graph.initializer.extend(kept + new_inits)
    return stats


def quantise_conv_weights(node: onnx.NodeProto, inits: Dict[str, TensorProto], input_scale: float, new_inits: List[TensorProto], replaced: set) -> List[onnx.NodeProto]:
    """Int8 weights per output channel and an int32 bias, each behind a DequantizeLinear (axis 0)."""
    weight_name = node.input[1]
    weight = numpy_helper.to_array(inits[weight_name]).astype(np.float32)
    channels = weight.shape[0]
    peak = np.abs(weight.reshape(channels, -1)).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    shaped = scale.reshape([channels] + [1] * (weight.ndim - 1))
    quantised = np.clip(np.round(weight / shaped), -127, 127).astype(np.int8)
    new_inits += [
        numpy_helper.from_array(quantised, f"{weight_name}_int8"),
        numpy_helper.from_array(scale, f"{weight_name}_wscale"),
        numpy_helper.from_array(np.zeros(channels, dtype=np.int8), f"{weight_name}_wzero"),
    ]
    added = [helper.make_node("DequantizeLinear", [f"{weight_name}_int8", f"{weight_name}_wscale", f"{weight_name}_wzero"], [f"{weight_name}_wdq"], axis=0, name=f"{node.name}_WeightDequantize")]
    replaced.add(weight_name)
    node.input[1] = f"{weight_name}_wdq"
    if len(node.input) > 2 and node.input[2] in inits:
        bias_name = node.input[2]
        bias = numpy_helper.to_array(inits[bias_name]).astype(np.float64)
        bias_scale = (input_scale * scale.astype(np.float64)).astype(np.float32)
        bias_q = np.clip(np.round(bias / bias_scale), -(2**31), 2**31 - 1).astype(np.int32)
        new_inits += [
            numpy_helper.from_array(bias_q, f"{bias_name}_int32"),
            numpy_helper.from_array(bias_scale, f"{bias_name}_bscale"),
            numpy_helper.from_array(np.zeros(channels, dtype=np.int32), f"{bias_name}_bzero"),
        ]
        added.append(helper.make_node("DequantizeLinear", [f"{bias_name}_int32", f"{bias_name}_bscale", f"{bias_name}_bzero"], [f"{bias_name}_bdq"], axis=0, name=f"{node.name}_BiasDequantize"))
        replaced.add(bias_name)
        node.input[2] = f"{bias_name}_bdq"
    return added


def quantize_static_file(src: str, dst: str, ranges: Dict[str, Sequence[float]], conv_only: bool = False) -> Dict[str, object]:
    model = onnx.load(src)
    stats: Dict[str, object] = dict(quantize_static_model(model, ranges, conv_only))
    onnx.checker.check_model(model)
    save_atomic(model, dst)
    stats["bytesBefore"] = os.path.getsize(src)
    stats["bytesAfter"] = os.path.getsize(dst)
    stats["weights"] = "int8 symmetric per output channel (Conv)" + ("" if conv_only else "; Gemm kept fp32")
    stats["activations"] = f"uint8 static per tensor ({stats['activations']} tensors, calibrated ranges)"
    return stats


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(prog="quantize_static.py", description="Int8 static (QDQ) quantisation of a convolutional ONNX model.")
    sub = parser.add_subparsers(dest="step", required=True)
    expose = sub.add_parser("expose", help="write a copy with every activation to quantise as a graph output")
    expose.add_argument("src")
    expose.add_argument("dst")
    expose.add_argument("--conv-only", action="store_true", help="only the convolutions (their inputs and outputs)")
    quant = sub.add_parser("quantize", help="write the QDQ model from measured ranges")
    quant.add_argument("src")
    quant.add_argument("dst")
    quant.add_argument("--ranges", required=True, help='JSON {"activation": [min, max], ...}')
    quant.add_argument("--conv-only", action="store_true", help="only the convolutions (their inputs and outputs)")
    args = parser.parse_args(list(argv) or None)
    if args.step == "expose":
        sys.stdout.write(json.dumps(expose_file(args.src, args.dst, args.conv_only)) + "\n")
    else:
        with open(args.ranges, encoding="utf-8") as f:
            ranges = json.load(f)
        sys.stdout.write(json.dumps(quantize_static_file(args.src, args.dst, ranges, args.conv_only)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
