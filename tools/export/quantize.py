#!/usr/bin/python3
"""Int8 dynamic quantisation of an ONNX model with python3-onnx only (onnxruntime's Python
quantiser is not needed).

Every MatMul (and Gemm) whose second operand is a constant 2-D float matrix W [K, N] becomes

    DynamicQuantizeLinear(A) -> A_q (uint8), a_scale, a_zero_point      (once per activation)
    MatMulInteger(A_q, W_q, a_zero_point) -> int32                       (W_q int8, symmetric, per column)
    Cast(float) * (a_scale * w_scale[N])                                 (+ C for a Gemm)

which onnxruntime fuses into DynamicQuantizeMatMul / MatMulIntegerToFloat. With --conv, every
Conv with constant weights becomes DynamicQuantizeLinear + ConvInteger (weights uint8, asymmetric,
symmetric per output channel around the one zero point 128, the form onnxruntime's CPU
ConvInteger takes) + Cast + Mul by the per-channel scales (+ bias).

The activation range is taken per call over the whole input tensor, so with a batch of several
inputs the result depends slightly on the other rows of the batch.

  python3 tools/export/quantize.py in.onnx out.onnx [--conv] [--reduce-range]
"""
import argparse
import json
import os
import sys
from typing import Dict, List, Optional, Set, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Quantiser:
    def __init__(self, model: onnx.ModelProto, conv: bool, reduce_range: bool, min_elements: int) -> None:
        self.model = model
        self.graph = model.graph
        self.conv = conv
        # 7-bit weights avoid the int16 saturation of u8 x s8 products on x86 CPUs without VNNI.
        self.weight_max = 63 if reduce_range else 127
        self.min_elements = min_elements
        self.inits: Dict[str, TensorProto] = {t.name: t for t in self.graph.initializer}
        self.new_inits: List[TensorProto] = []
        self.quantised_inputs: Dict[str, Tuple[str, str, str]] = {}
        self.counter = 0
        self.stats = {"matmul": 0, "gemm": 0, "conv": 0, "skipped": 0}
        uses: Dict[str, int] = {}
        for node in self.graph.node:
            for name in node.input:
                uses[name] = uses.get(name, 0) + 1
        self.uses = uses
        self.replaced: Set[str] = set()

    def fresh(self, base: str) -> str:
        self.counter += 1
        return f"{base}_q{self.counter}"

    def constant(self, array: np.ndarray, base: str) -> str:
        name = self.fresh(base)
        self.new_inits.append(numpy_helper.from_array(array, name))
        return name

    def float_weight(self, name: str, dims: Tuple[int, ...], min_elements: int) -> Optional[np.ndarray]:
        """The constant float weight `name` with a rank in `dims` and at least `min_elements`
        values, else None (small matrices are not worth the quantise / dequantise steps)."""
        tensor = self.inits.get(name)
        if tensor is None or tensor.data_type != TensorProto.FLOAT or len(tensor.dims) not in dims:
            return None
        array = numpy_helper.to_array(tensor)
        if array.size < min_elements:
            return None
        return array

    def quantised_activation(self, name: str, nodes: List[onnx.NodeProto]) -> Tuple[str, str, str]:
        if name not in self.quantised_inputs:
            q, scale, zero = self.fresh(name + "_u8"), self.fresh(name + "_scale"), self.fresh(name + "_zp")
            nodes.append(helper.make_node("DynamicQuantizeLinear", [name], [q, scale, zero], name=self.fresh("DynamicQuantizeLinear")))
            self.quantised_inputs[name] = (q, scale, zero)
        return self.quantised_inputs[name]

    def retire(self, weight: str) -> None:
        self.uses[weight] -= 1
        if self.uses[weight] == 0:
            self.replaced.add(weight)

    def matmul(self, activation: str, weight: np.ndarray, output: str, bias: Optional[str], nodes: List[onnx.NodeProto], base: str) -> None:
        """output = activation @ weight (+ bias), weight [K, N] float."""
        peak = np.max(np.abs(weight), axis=0)
        scale = np.where(peak > 0, peak / self.weight_max, 1.0).astype(np.float32)
        w_q = np.clip(np.round(weight / scale), -self.weight_max, self.weight_max).astype(np.int8)
        a_q, a_scale, a_zero = self.quantised_activation(activation, nodes)
        w_name = self.constant(w_q, base + "_W_int8")
        w_scale = self.constant(scale, base + "_W_scale")
        product = self.fresh(base + "_int32")
        as_float = self.fresh(base + "_float")
        both = self.fresh(base + "_scale")
        nodes.append(helper.make_node("MatMulInteger", [a_q, w_name, a_zero], [product], name=self.fresh(base + "_MatMulInteger")))
        nodes.append(helper.make_node("Cast", [product], [as_float], to=TensorProto.FLOAT, name=self.fresh(base + "_Cast")))
        nodes.append(helper.make_node("Mul", [a_scale, w_scale], [both], name=self.fresh(base + "_ScaleMul")))
        if bias is None:
            nodes.append(helper.make_node("Mul", [as_float, both], [output], name=self.fresh(base + "_Mul")))
        else:
            scaled = self.fresh(base + "_scaled")
            nodes.append(helper.make_node("Mul", [as_float, both], [scaled], name=self.fresh(base + "_Mul")))
            nodes.append(helper.make_node("Add", [scaled, bias], [output], name=self.fresh(base + "_Bias")))

    def convolution(self, node: onnx.NodeProto, weight: np.ndarray, nodes: List[onnx.NodeProto]) -> None:
        """Symmetric per output channel, stored as uint8 with the single zero point 128 (ConvInteger
        takes one zero point per tensor on onnxruntime's CPU); the per-channel scales are applied
        to the int32 result."""
        channels = weight.shape[0]
        peak = np.max(np.abs(weight.reshape(channels, -1)), axis=1)
        scale = np.where(peak > 0, peak / self.weight_max, 1.0).astype(np.float32)
        shape = [channels] + [1] * (weight.ndim - 1)
        w_q = (np.clip(np.round(weight / scale.reshape(shape)), -self.weight_max, self.weight_max) + 128).astype(np.uint8)
        base = node.name or "Conv"
        a_q, a_scale, a_zero = self.quantised_activation(node.input[0], nodes)
        w_name = self.constant(w_q, base + "_W_uint8")
        w_zero = self.constant(np.array(128, dtype=np.uint8), base + "_W_zp")
        w_scale = self.constant(scale.reshape([1, channels] + [1] * (weight.ndim - 2)), base + "_W_scale")
        product = self.fresh(base + "_int32")
        as_float = self.fresh(base + "_float")
        both = self.fresh(base + "_scale")
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        nodes.append(helper.make_node("ConvInteger", [a_q, w_name, a_zero, w_zero], [product], name=self.fresh(base + "_ConvInteger"), **attrs))
        nodes.append(helper.make_node("Cast", [product], [as_float], to=TensorProto.FLOAT, name=self.fresh(base + "_Cast")))
        nodes.append(helper.make_node("Mul", [a_scale, w_scale], [both], name=self.fresh(base + "_ScaleMul")))
        has_bias = len(node.input) > 2 and node.input[2] != ""
        if not has_bias:
            nodes.append(helper.make_node("Mul", [as_float, both], [node.output[0]], name=self.fresh(base + "_Mul")))
            return
        if node.input[2] not in self.inits:
            raise ValueError(f"{base}: non-constant convolution bias is not supported")
        bias = numpy_helper.to_array(self.inits[node.input[2]])
        scaled = self.fresh(base + "_scaled")
        nodes.append(helper.make_node("Mul", [as_float, both], [scaled], name=self.fresh(base + "_Mul")))
        shaped = self.constant(bias.reshape([1, -1] + [1] * (weight.ndim - 2)).astype(np.float32), base + "_B")
        nodes.append(helper.make_node("Add", [scaled, shaped], [node.output[0]], name=self.fresh(base + "_Bias")))
        self.retire(node.input[2])

    def conv_worth_it(self, node: onnx.NodeProto, weight: np.ndarray) -> bool:
        """Integer convolution pays off for ordinary convolutions with enough inputs per output
        (measured: a 1-input-channel first layer and the grouped positional convolution of
        wav2vec2 got slower)."""
        group = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "group"), 1)
        per_output = int(np.prod(weight.shape[1:]))
        return group == 1 and per_output >= 64

    def run(self) -> Dict[str, int]:
        nodes: List[onnx.NodeProto] = []
        for node in self.graph.node:
            if node.op_type == "MatMul" and len(node.input) == 2:
                weight = self.float_weight(node.input[1], (2,), self.min_elements)
                if weight is not None:
                    self.matmul(node.input[0], weight, node.output[0], None, nodes, node.name or "MatMul")
                    self.retire(node.input[1])
                    self.stats["matmul"] += 1
                    continue
            if node.op_type == "Gemm":
                attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
                weight = self.float_weight(node.input[1], (2,), self.min_elements)
                simple = attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0 and attrs.get("transA", 0) == 0
                if weight is not None and simple:
                    if attrs.get("transB", 0):
                        weight = np.ascontiguousarray(weight.T)
                    bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
                    self.matmul(node.input[0], weight, node.output[0], bias, nodes, node.name or "Gemm")
                    self.retire(node.input[1])
                    self.stats["gemm"] += 1
                    continue
            if node.op_type == "Conv" and self.conv:
                weight = self.float_weight(node.input[1], (3, 4), 1)
                if weight is not None and self.conv_worth_it(node, weight):
                    self.convolution(node, weight, nodes)
                    self.retire(node.input[1])
                    self.stats["conv"] += 1
                    continue
            if node.op_type in ("MatMul", "Gemm") or (node.op_type == "Conv" and self.conv):
                self.stats["skipped"] += 1
            nodes.append(node)
        del self.graph.node[:]
        self.graph.node.extend(nodes)
        kept = [t for t in self.graph.initializer if t.name not in self.replaced]
        del self.graph.initializer[:]
        self.graph.initializer.extend(kept + self.new_inits)
        return self.stats


def quantize_model(model: onnx.ModelProto, conv: bool = False, reduce_range: bool = False, min_elements: int = 4096) -> Dict[str, int]:
    """Rewrites `model` in place; returns how many nodes of each kind were quantised."""
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset < 11:
        raise ValueError(f"opset {opset} is too old for DynamicQuantizeLinear (needs 11 or later)")
    return Quantiser(model, conv, reduce_range, min_elements).run()


def save_atomic(model: onnx.ModelProto, dst: str) -> None:
    """Writes the model under a temporary name and renames it: no half-written file on failure."""
    partial = dst + f".partial-{os.getpid()}"
    try:
        onnx.save(model, partial)
        os.replace(partial, dst)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def quantize_file(src: str, dst: str, conv: bool = False, reduce_range: bool = False) -> Dict[str, object]:
    model = onnx.load(src)
    stats: Dict[str, object] = dict(quantize_model(model, conv=conv, reduce_range=reduce_range))
    onnx.checker.check_model(model)
    save_atomic(model, dst)
    stats["bytesBefore"] = os.path.getsize(src)
    stats["bytesAfter"] = os.path.getsize(dst)
    stats["weights"] = "int8 symmetric per column" + (" (7-bit)" if reduce_range else "")
    stats["activations"] = "uint8 dynamic per tensor"
    if conv:
        stats["convWeights"] = "uint8 symmetric per output channel (zero point 128)"
    return stats


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="quantize.py", description="Int8 dynamic quantisation of an ONNX model's MatMul/Gemm (and Conv) weights.")
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--conv", action="store_true", help="quantise convolutions too (ConvInteger)")
    parser.add_argument("--reduce-range", action="store_true", help="7-bit weights (for CPUs without VNNI)")
    args = parser.parse_args(argv)
    stats = quantize_file(args.src, args.dst, conv=args.conv, reduce_range=args.reduce_range)
    sys.stdout.write(json.dumps(stats) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
