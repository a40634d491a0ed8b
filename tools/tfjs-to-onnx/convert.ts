/**
 * TensorFlow.js graph model → ONNX.
 *
 * Layout: TensorFlow graphs from tfjs are NHWC; ONNX Conv/pooling are NCHW. The ONNX model
 * keeps the graph's own inputs and outputs exactly as in TensorFlow (NHWC input, same output
 * shapes), and inside it each 4-D value is carried in whichever layout its producer made it:
 * convolutions and pools produce NCHW, and a Transpose is inserted only where a consumer needs
 * the other layout (the graph input going into the first convolution; a Reshape after a conv).
 * Element-wise ops, reductions, Pad, Concat and Softmax follow the layout of their inputs, with
 * axes and constant operands permuted to match. Constant weights are rearranged on the host
 * (HWIO → OIHW, depthwise HWCM → (C·M)1HW), so no Transpose is spent on them.
 *
 * Batch: a graph input dimension of -1 becomes the symbolic dimension `N`.
 */
import { onnx } from 'onnx-proto';

import { DataType, DEFAULT_OPSET, encodeModel, OnnxGraphBuilder, tensorProto, type AttrValue, type OnnxDataType } from './onnx-builder';
import {
  attrBool, attrFloat, attrInt, attrInts, attrString, attrStrings, decodeInlineTensor, elementCount, shapeFromTf, signatureOf,
  type HostTensor, type TfjsGraphModel, type TfNodeDef,
} from './tfjs-model';

export const CONVERTER_NAME = 'tfjs-to-onnx';
export const CONVERTER_VERSION = '1.0.0';

type Layout = 'nhwc' | 'nchw';

/** One TensorFlow tensor as it exists in the ONNX graph being built. */
interface Val {
  dtype: OnnxDataType;
  /** The TensorFlow (logical) shape; -1 where unknown. null when even the rank is unknown. */
  shape: number[] | null;
  /** The layout `name` is in. Only a 4-D value can be 'nchw' (physically N,C,H,W; logically N,H,W,C). */
  layout: Layout;
  /** ONNX value name, in `layout`. Empty for a constant not yet written. */
  name: string;
  /** The same value in the other layout, once some consumer asked for it. */
  other?: string;
  /** Host data for constants (in TensorFlow layout). */
  konst?: HostTensor;
  /** Base for derived ONNX names. */
  base: string;
  /**
   * For a small 1-D (or scalar) integer value computed from shapes (Shape, StridedSlice, Pack):
   * its elements, each a known number or "dimension `axis` of value `of`" when that is not known
   * statically. Lets a Reshape whose target copies dimensions of its own input get a constant target.
   */
  elems?: ShapeElem[];
  /** Writes the ONNX nodes computing this value on first use (sets `name`); for `elems` values no consumer may need. */
  lazy?: () => string;
}

/** One element of a shape-derived integer value: known, or a dimension of some value. */
type ShapeElem = number | { of: Val; axis: number };

export interface GraphIo {
  name: string;
  tfName: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'int64' | 'bool';
}

export interface ConvertOptions {
  opset?: number;
  /** TensorFlow tensors to expose as graph outputs (e.g. `node:0`) instead of the signature's. */
  outputs?: string[];
  /** Extra metadata_props written into the model. */
  metadata?: Record<string, string>;
  docString?: string;
}

export interface ConvertResult {
  model: onnx.ModelProto;
  bytes: Uint8Array;
  inputs: GraphIo[];
  outputs: GraphIo[];
  /** TensorFlow ops that were converted, with counts. */
  tfOps: Record<string, number>;
}

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];
/** Physical NCHW axis of each logical NHWC axis. */
const LOGICAL_TO_PHYSICAL = [0, 2, 3, 1];

function onnxTypeOfTf(dt: string | undefined): OnnxDataType {
  switch (dt ?? 'DT_FLOAT') {
    case 'DT_FLOAT': return DataType.FLOAT;
    case 'DT_INT32': return DataType.INT32;
    case 'DT_INT64': return DataType.INT64;
    case 'DT_BOOL': return DataType.BOOL;
    default: throw new Error(`unsupported TensorFlow dtype ${String(dt)}`);
  }
}

function onnxTypeOfHost(t: HostTensor): OnnxDataType {
  return t.dtype === 'float32' ? DataType.FLOAT : t.dtype === 'int32' ? DataType.INT32 : DataType.BOOL;
}

function ioDtype(dt: OnnxDataType): GraphIo['dtype'] {
  if (dt === DataType.FLOAT) return 'float32';
  if (dt === DataType.INT32) return 'int32';
  if (dt === DataType.INT64) return 'int64';
  return 'bool';
}

/** Row-major transpose of a host tensor: out.shape[i] = in.shape[perm[i]]. */
export function transposeHost(t: HostTensor, perm: readonly number[]): HostTensor {
  const rank = t.shape.length;
  if (perm.length !== rank) throw new Error(`transpose: perm ${perm.join(',')} does not fit shape ${t.shape.join('x')}`);
  const outShape = perm.map((p) => t.shape[p]);
  const inStrides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1] * t.shape[i + 1];
  const n = elementCount(t.shape);
  const data = new (t.data.constructor as { new (n: number): Float32Array | Int32Array | Uint8Array })(n);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < n; o++) {
    let src = 0;
    for (let i = 0; i < rank; i++) src += idx[i] * inStrides[perm[i]];
    data[o] = t.data[src];
    for (let i = rank - 1; i >= 0; i--) {
      if (++idx[i] < outShape[i]) break;
      idx[i] = 0;
    }
  }
  return { dtype: t.dtype, shape: outShape, data };
}

function reshapeHost(t: HostTensor, shape: number[]): HostTensor {
  if (elementCount(shape) !== t.data.length) throw new Error(`reshape: ${t.shape.join('x')} cannot become ${shape.join('x')}`);
  return { dtype: t.dtype, shape, data: t.data };
}

function parseRef(ref: string): { node: string; index: number } {
  const m = /^(.*?)(?::(\d+))?$/.exec(ref);
  if (!m) throw new Error(`bad tensor reference ${ref}`);
  return { node: m[1], index: m[2] === undefined ? 0 : Number(m[2]) };
}

function refKey(ref: string): string {
  const { node, index } = parseRef(ref);
  return `${node}:${index}`;
}

function dataInputs(node: TfNodeDef): string[] {
  return (node.input ?? []).filter((i) => !i.startsWith('^'));
}

function broadcastShapes(shapes: (number[] | null)[]): number[] | null {
  if (shapes.some((s) => s === null)) return null;
  const known = shapes as number[][];
  const rank = Math.max(...known.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of known) {
      const v = s[s.length - rank + i] ?? 1;
      if (v === -1) d = d === 1 || d === -1 ? -1 : d;
      else if (v !== 1) d = v;
    }
    out.push(d);
  }
  return out;
}

/** Output size and ONNX pads (begin, end) for one spatial axis, TensorFlow padding semantics. */
function spatialPad(inSize: number, k: number, stride: number, dilation: number, padding: string, explicit: [number, number]): { out: number; pads: [number, number] } | null {
  const eff = (k - 1) * dilation + 1;
  if (padding === 'VALID') return { out: inSize < 0 ? -1 : Math.floor((inSize - eff) / stride) + 1, pads: [0, 0] };
  if (padding === 'EXPLICIT') return { out: inSize < 0 ? -1 : Math.floor((inSize + explicit[0] + explicit[1] - eff) / stride) + 1, pads: explicit };
  if (padding !== 'SAME') throw new Error(`unsupported padding ${padding}`);
  if (inSize < 0) return null;
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + eff - inSize, 0);
  const before = Math.floor(total / 2);
  return { out, pads: [before, total - before] };
}

/** A bound past any tensor dimension, for ONNX Slice's "to the end" (Slice clamps it). */
const BIG = Number.MAX_SAFE_INTEGER;

/** One axis of a TensorFlow StridedSlice. */
interface SliceSpec { begin: number; end: number; stride: number; beginMask: boolean; endMask: boolean; shrink: boolean }

/** The input indices one StridedSlice axis of size `dim` picks, in order (TensorFlow semantics). */
function sliceIndices(s: SliceSpec, dim: number, what: string): number[] {
  if (s.shrink) {
    const i = s.begin < 0 ? s.begin + dim : s.begin;
    if (i < 0 || i >= dim) throw new Error(`${what}: index ${s.begin} is out of range for a dimension of ${dim}`);
    return [i];
  }
  const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
  const out: number[] = [];
  if (s.stride > 0) {
    const b = s.beginMask ? 0 : clamp(s.begin < 0 ? s.begin + dim : s.begin, 0, dim);
    const e = s.endMask ? dim : clamp(s.end < 0 ? s.end + dim : s.end, 0, dim);
    for (let i = b; i < e; i += s.stride) out.push(i);
  } else {
    const b = s.beginMask ? dim - 1 : clamp(s.begin < 0 ? s.begin + dim : s.begin, -1, dim - 1);
    const e = s.endMask ? -1 : clamp(s.end < 0 ? s.end + dim : s.end, -1, dim - 1);
    for (let i = b; i > e; i += s.stride) out.push(i);
  }
  return out;
}

/** Host gather of a row-major tensor: the product of the per-axis index lists, reshaped to `shape`. */
function gatherHost(t: HostTensor, picks: readonly (readonly number[])[], shape: number[]): HostTensor {
  const rank = t.shape.length;
  const strides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1] * t.shape[i + 1];
  const n = picks.reduce((p, q) => p * q.length, 1);
  const data = new (t.data.constructor as { new (n: number): Float32Array | Int32Array | Uint8Array })(n);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < n; o++) {
    let src = 0;
    for (let i = 0; i < rank; i++) src += picks[i][idx[i]] * strides[i];
    data[o] = t.data[src];
    for (let i = rank - 1; i >= 0; i--) {
      if (++idx[i] < picks[i].length) break;
      idx[i] = 0;
    }
  }
  return { dtype: t.dtype, shape, data };
}

/** tf.stack of host tensors of one shape along `axis`. */
function stackHost(ts: readonly HostTensor[], axis: number, what: string): HostTensor {
  const shape = ts[0].shape;
  if (ts.some((t) => t.dtype !== ts[0].dtype || t.shape.join(',') !== shape.join(','))) throw new Error(`${what}: inputs differ in shape or type`);
  const outer = elementCount(shape.slice(0, axis));
  const inner = elementCount(shape.slice(axis));
  const data = new (ts[0].data.constructor as { new (n: number): Float32Array | Int32Array | Uint8Array })(outer * ts.length * inner);
  for (let o = 0; o < outer; o++) {
    ts.forEach((t, k) => data.set(t.data.subarray(o * inner, (o + 1) * inner), (o * ts.length + k) * inner));
  }
  return { dtype: ts[0].dtype, shape: [...shape.slice(0, axis), ts.length, ...shape.slice(axis)], data };
}

/**
 * The shape a Reshape to `target` gives (-1 where unknown): entries at `copied` positions are 0 in
 * `target` and keep the input's dimension; one -1 is inferred when the rest is known.
 */
function reshapeResult(inShape: number[] | null, target: readonly number[], copied: ReadonlySet<number>): number[] {
  const out = target.map((d, i) => (copied.has(i) ? inShape?.[i] ?? -1 : d));
  const inferred = target.indexOf(-1);
  if (!inShape || inferred < 0 || target.lastIndexOf(-1) !== inferred) return out;
  const rest = inShape.filter((_, i) => !copied.has(i));
  if (rest.includes(-1)) return out;
  const known = target.filter((d, i) => d !== -1 && !copied.has(i)).reduce((p, q) => p * q, 1);
  out[inferred] = elementCount(rest) / known;
  return out;
}

/** Topological order of the nodes the given outputs depend on (inputs before consumers). */
function topoOrder(byName: Map<string, TfNodeDef>, outputs: string[]): TfNodeDef[] {
  const order: TfNodeDef[] = [];
  const state = new Map<string, 1 | 2>(); // 1 visiting, 2 done
  for (const out of outputs) {
    const stack: { name: string; next: number }[] = [{ name: out, next: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const node = byName.get(top.name);
      if (!node) throw new Error(`graph refers to missing node ${top.name}`);
      if (top.next === 0) {
        if (state.get(top.name) === 2) { stack.pop(); continue; }
        state.set(top.name, 1);
      }
      const ins = (node.input ?? []).map((i) => parseRef(i.replace(/^\^/, '')).node);
      if (top.next < ins.length) {
        const dep = ins[top.next++];
        const st = state.get(dep);
        if (st === 1) throw new Error(`cycle through ${dep}`);
        if (st !== 2) stack.push({ name: dep, next: 0 });
        continue;
      }
      state.set(top.name, 2);
      order.push(node);
      stack.pop();
    }
  }
  return order;
}

/** ONNX-friendly name for a TensorFlow tensor reference: `x:0` → `x`, `x:1` → `x_1`. */
export function onnxNameForRef(ref: string): string {
  const { node, index } = parseRef(ref);
  return index === 0 ? node : `${node}_${index}`;
}

class Converter {
  readonly b = new OnnxGraphBuilder({ 0: 'N' });
  private readonly vals = new Map<string, Val>();
  readonly tfOps: Record<string, number> = {};

  constructor(private readonly model: TfjsGraphModel) {}

  // ---------------------------------------------------------------- values

  get(ref: string): Val {
    const v = this.vals.get(refKey(ref));
    if (!v) throw new Error(`tensor ${ref} has not been converted (unsupported producer?)`);
    return v;
  }

  private set(node: TfNodeDef, v: Val, index = 0): void {
    this.vals.set(`${node.name}:${index}`, v);
  }

  private out(node: TfNodeDef, name: string, layout: Layout, shape: number[] | null, dtype: OnnxDataType = DataType.FLOAT): void {
    this.set(node, { name, layout, shape, dtype, base: node.name });
  }

  private rank(v: Val): number | null {
    return v.shape ? v.shape.length : null;
  }

  /** A constant's host data, or an error naming the op that needs it. */
  private konst(ref: string, what: string): HostTensor {
    const v = this.get(ref);
    if (!v.konst) throw new Error(`${what}: ${ref} must be a constant`);
    return v.konst;
  }

  /** ONNX name of `v` in the requested layout (writing the constant or a Transpose as needed). */
  private as(v: Val, layout: Layout): string {
    if (v.konst) {
      if (layout === v.layout && v.name) return v.name;
      if (layout !== v.layout && v.other) return v.other;
      const data = layout === 'nchw' ? transposeHost(v.konst, NHWC_TO_NCHW) : v.konst;
      const name = this.b.addInitializer(layout === 'nchw' ? `${v.base}/nchw` : v.base, tensorProto('', data));
      if (layout === v.layout) v.name = name; else v.other = name;
      return name;
    }
    if (!v.name && v.lazy) v.name = v.lazy();
    if (layout === v.layout) return v.name;
    if (v.other) return v.other;
    if (this.rank(v) !== 4) throw new Error(`value ${v.base} of rank ${this.rank(v)} cannot be given NCHW layout`);
    v.other = layout === 'nchw'
      ? this.b.op('Transpose', [v.name], `${v.base}/nchw`, { perm: NHWC_TO_NCHW })
      : this.b.op('Transpose', [v.name], `${v.base}/nhwc`, { perm: NCHW_TO_NHWC });
    return v.other;
  }

  /**
   * A constant operand for a broadcasting op in `layout` at `rank`: TensorFlow broadcasting
   * aligns trailing axes, so it is first padded with leading 1s to the op's rank.
   */
  private constOperand(v: Val, layout: Layout, rank: number): string {
    const t = v.konst as HostTensor;
    if (layout === 'nhwc' || t.shape.length > rank) return this.as(v, 'nhwc');
    if (t.shape.length === rank) return this.as(v, 'nchw');
    const padded = reshapeHost(t, [...new Array<number>(rank - t.shape.length).fill(1), ...t.shape]);
    return this.b.addInitializer(`${v.base}/nchw`, tensorProto('', transposeHost(padded, NHWC_TO_NCHW)));
  }

  /** Layout for an op whose data inputs may follow any layout: NCHW when some input already is and all are 4-D. */
  private commonLayout(vals: Val[]): Layout {
    const dyn = vals.filter((v) => !v.konst);
    if (dyn.some((v) => v.layout === 'nchw') && dyn.every((v) => this.rank(v) === 4)) return 'nchw';
    return 'nhwc';
  }

  // ---------------------------------------------------------------- graph

  convert(options: ConvertOptions): ConvertResult {
    const nodes = this.model.json.modelTopology.node;
    const byName = new Map(nodes.map((n) => [n.name, n] as const));
    const consumed = new Set<string>();
    for (const n of nodes) for (const i of n.input ?? []) consumed.add(parseRef(i.replace(/^\^/, '')).node);

    const sig = signatureOf(this.model.json);
    let outputRefs = options.outputs ?? Object.values(sig?.outputs ?? {}).map((o) => o.name).filter((r) => byName.has(parseRef(r).node));
    for (const r of outputRefs) if (!byName.has(parseRef(r).node)) throw new Error(`no node ${parseRef(r).node} for output ${r}`);
    if (outputRefs.length === 0) {
      outputRefs = nodes.filter((n) => !consumed.has(n.name) && n.op !== 'Const' && n.op !== 'Placeholder' && n.op !== 'NoOp').map((n) => `${n.name}:0`);
    }
    if (outputRefs.length === 0) throw new Error('graph has no outputs');
    const order = topoOrder(byName, outputRefs.map((r) => parseRef(r).node));
    const outputNames = outputRefs.map(onnxNameForRef);
    for (const n of outputNames) this.b.reserve(n);

    const inputs: GraphIo[] = [];
    for (const node of order) {
      this.tfOps[node.op] = (this.tfOps[node.op] ?? 0) + 1;
      if (node.op === 'Placeholder') {
        const shape = shapeFromTf(node.attr?.shape?.shape);
        if (!shape) throw new Error(`input ${node.name} has unknown rank`);
        const dtype = onnxTypeOfTf(node.attr?.dtype?.type);
        this.b.addInput({ name: node.name, dtype, shape });
        this.out(node, node.name, 'nhwc', shape, dtype);
        inputs.push({ name: node.name, tfName: node.name, shape, dtype: ioDtype(dtype) });
        continue;
      }
      this.convertNode(node);
    }

    const outputs: GraphIo[] = [];
    outputRefs.forEach((ref, k) => {
      const v = this.get(ref);
      const name = outputNames[k];
      if (!v.konst && !v.name && v.lazy) v.name = v.lazy();
      if (v.konst) this.b.nodeExact('Identity', [this.as(v, 'nhwc')], [name]);
      else if (v.layout === 'nchw') this.b.nodeExact('Transpose', [v.name], [name], { perm: NCHW_TO_NHWC });
      else this.b.nodeExact('Identity', [v.name], [name]);
      const shape = v.shape ?? [];
      this.b.addOutput({ name, dtype: v.dtype, shape: v.shape });
      outputs.push({ name, tfName: ref, shape, dtype: ioDtype(v.dtype) });
    });

    const json = this.model.json;
    const model = this.b.build({
      graphName: 'tfjs-graph-model',
      opset: options.opset ?? DEFAULT_OPSET,
      producerName: CONVERTER_NAME,
      producerVersion: CONVERTER_VERSION,
      docString: options.docString,
      metadata: {
        ...(json.generatedBy ? { tfjs_generated_by: json.generatedBy } : {}),
        ...(json.convertedBy ? { tfjs_converted_by: json.convertedBy } : {}),
        ...(options.metadata ?? {}),
      },
    });
    return { model, bytes: encodeModel(model), inputs, outputs, tfOps: this.tfOps };
  }

  // ---------------------------------------------------------------- ops

  private convertNode(node: TfNodeDef): void {
    const ins = dataInputs(node);
    switch (node.op) {
      case 'Const': {
        const w = this.model.weights.get(node.name);
        const t = w ?? (node.attr?.value?.tensor ? decodeInlineTensor(node.attr.value.tensor, node.name) : undefined);
        if (!t) throw new Error(`constant ${node.name} has neither a weight nor an inline value`);
        this.set(node, { name: '', layout: 'nhwc', shape: [...t.shape], dtype: onnxTypeOfHost(t), konst: t, base: node.name });
        return;
      }
      case 'Identity': case 'StopGradient': case 'Snapshot': case 'PreventGradient':
        this.set(node, this.get(ins[0]));
        return;
      case 'Conv2D': case '_FusedConv2D':
        this.conv(node, false);
        return;
      case 'DepthwiseConv2dNative': case 'FusedDepthwiseConv2dNative':
        this.conv(node, true);
        return;
      case 'MaxPool': case 'AvgPool':
        this.pool(node);
        return;
      case 'Add': case 'AddV2': case 'Sub': case 'Mul': case 'RealDiv': case 'Div': case 'Maximum': case 'Minimum': case 'Pow':
      case 'BiasAdd': case 'Prelu': case 'SquaredDifference':
        this.binary(node);
        return;
      case 'AddN':
        this.addN(node);
        return;
      case 'Relu': case 'Relu6': case 'Elu': case 'Selu': case 'Sigmoid': case 'Tanh': case 'Exp': case 'Log': case 'Neg': case 'Abs':
      case 'Sqrt': case 'Rsqrt': case 'Square': case 'Floor': case 'Ceil': case 'Softplus': case 'LeakyRelu': case 'Reciprocal': {
        const x = this.get(ins[0]);
        const layout = x.konst ? 'nhwc' : x.layout;
        this.out(node, this.activation(node.op, this.as(x, layout), node.name, layout, this.rank(x) ?? 4, node), layout, x.shape, x.dtype);
        return;
      }
      case 'Mean': case 'Sum': case 'Max': case 'Min': case 'Prod':
        this.reduce(node);
        return;
      case 'Softmax': case 'LogSoftmax': {
        const x = this.get(ins[0]);
        const layout = x.konst ? 'nhwc' : x.layout;
        const axis = layout === 'nchw' ? 1 : -1;
        this.out(node, this.b.op(node.op, [this.as(x, layout)], node.name, { axis }), layout, x.shape, x.dtype);
        return;
      }
      case 'Reshape':
        this.reshape(node);
        return;
      case 'Squeeze': {
        const x = this.get(ins[0]);
        const rank = this.rank(x);
        const dims = attrInts(node, 'squeeze_dims', []);
        if (rank === null) throw new Error(`Squeeze ${node.name}: unknown input rank`);
        const axes = dims.length > 0 ? dims.map((a) => (a < 0 ? a + rank : a)) : (x.shape ?? []).flatMap((d, i) => (d === 1 ? [i] : []));
        const shape = (x.shape ?? []).filter((_, i) => !axes.includes(i));
        const name = this.b.op('Squeeze', [this.as(x, 'nhwc'), this.b.int64Const(`${node.name}/axes`, axes)], node.name);
        this.out(node, name, 'nhwc', shape, x.dtype);
        return;
      }
      case 'ExpandDims': {
        const x = this.get(ins[0]);
        const rank = this.rank(x);
        if (rank === null) throw new Error(`ExpandDims ${node.name}: unknown input rank`);
        let axis = this.konst(ins[1], `ExpandDims ${node.name}`).data[0];
        if (axis < 0) axis += rank + 1;
        const shape = [...(x.shape ?? [])];
        shape.splice(axis, 0, 1);
        const name = this.b.op('Unsqueeze', [this.as(x, 'nhwc'), this.b.int64Const(`${node.name}/axes`, [axis])], node.name);
        this.out(node, name, 'nhwc', shape, x.dtype);
        return;
      }
      case 'Pad': case 'PadV2': case 'MirrorPad':
        this.pad(node);
        return;
      case 'ConcatV2':
        this.concat(node);
        return;
      case 'MatMul':
        this.matmul(node);
        return;
      case 'DepthToSpace':
        this.depthToSpace(node);
        return;
      case 'ResizeBilinear':
        this.resizeBilinear(node);
        return;
      case 'Shape':
        this.shapeOp(node);
        return;
      case 'StridedSlice':
        this.stridedSlice(node);
        return;
      case 'Pack':
        this.pack(node);
        return;
      default:
        throw new Error(`unsupported TensorFlow op ${node.op} (node ${node.name})`);
    }
  }

  /** Applies an activation named as in TensorFlow; returns the output name. */
  private activation(op: string, x: string, outName: string, layout: Layout, rank: number, node: TfNodeDef, alphaRef?: string): string {
    switch (op) {
      case 'Relu': return this.b.op('Relu', [x], outName);
      case 'Relu6': return this.b.op('Clip', [x, this.b.floatConst('relu6/min', [0], []), this.b.floatConst('relu6/max', [6], [])], outName);
      case 'Elu': return this.b.op('Elu', [x], outName, { alpha: { float: 1 } });
      case 'Selu': return this.b.op('Selu', [x], outName);
      case 'Sigmoid': return this.b.op('Sigmoid', [x], outName);
      case 'Tanh': return this.b.op('Tanh', [x], outName);
      case 'Exp': return this.b.op('Exp', [x], outName);
      case 'Log': return this.b.op('Log', [x], outName);
      case 'Neg': return this.b.op('Neg', [x], outName);
      case 'Abs': return this.b.op('Abs', [x], outName);
      case 'Sqrt': return this.b.op('Sqrt', [x], outName);
      case 'Reciprocal': return this.b.op('Reciprocal', [x], outName);
      case 'Rsqrt': return this.b.op('Reciprocal', [this.b.op('Sqrt', [x], `${outName}/sqrt`)], outName);
      case 'Square': return this.b.op('Mul', [x, x], outName);
      case 'Floor': return this.b.op('Floor', [x], outName);
      case 'Ceil': return this.b.op('Ceil', [x], outName);
      case 'Softplus': return this.b.op('Softplus', [x], outName);
      case 'LeakyRelu': return this.b.op('LeakyRelu', [x], outName, { alpha: { float: attrFloat(node, node.op === 'LeakyRelu' ? 'alpha' : 'leakyrelu_alpha', 0.2) } });
      case 'Prelu': {
        if (!alphaRef) throw new Error(`${node.name}: Prelu needs its alpha`);
        const alpha = this.get(alphaRef);
        const slope = alpha.konst ? this.constOperand(alpha, layout, rank) : this.as(alpha, layout);
        return this.b.op('PRelu', [x, slope], outName);
      }
      default: throw new Error(`unsupported activation ${op} (node ${node.name})`);
    }
  }

  private conv(node: TfNodeDef, depthwise: boolean): void {
    const ins = dataInputs(node);
    const what = `${node.op} ${node.name}`;
    if (attrString(node, 'data_format', 'NHWC') !== 'NHWC') throw new Error(`${what}: only NHWC data_format is supported`);
    const x = this.get(ins[0]);
    const w = this.konst(ins[1], what); // HWIO, or HWCM for depthwise
    if (w.dtype !== 'float32' || w.shape.length !== 4) throw new Error(`${what}: filter must be a 4-D float constant`);
    const [kh, kw, cin, cout0] = w.shape;
    const strides = attrInts(node, 'strides', [1, 1, 1, 1]);
    const dilations = attrInts(node, 'dilations', [1, 1, 1, 1]);
    const padding = attrString(node, 'padding');
    const explicit = attrInts(node, 'explicit_paddings', [0, 0, 0, 0, 0, 0, 0, 0]);
    if (strides[0] !== 1 || strides[3] !== 1) throw new Error(`${what}: strides over batch/channels are not supported`);

    // Filter → ONNX [O, I/group, kH, kW].
    let group = 1;
    let filter: HostTensor;
    if (depthwise) {
      group = cin;
      filter = transposeHost(reshapeHost(w, [kh, kw, cin * cout0, 1]), [2, 3, 0, 1]);
    } else {
      const xc = x.shape?.[3] ?? -1;
      if (xc > 0 && xc !== cin) {
        if (xc % cin !== 0) throw new Error(`${what}: input has ${xc} channels, filter expects ${cin}`);
        group = xc / cin;
      }
      filter = transposeHost(w, [3, 2, 0, 1]);
    }
    const cout = filter.shape[0];

    // Fused ops: [BiasAdd | FusedBatchNorm, activation?].
    const fused = attrStrings(node, 'fused_ops');
    const args = ins.slice(2);
    let bias: Float32Array | null = null;
    let activation: string | null = null;
    let alphaRef: string | undefined;
    for (const f of fused) {
      if (f === 'BiasAdd') {
        const b = this.konst(args[0], `${what} bias`);
        if (b.data.length !== cout) throw new Error(`${what}: bias has ${b.data.length} values for ${cout} channels`);
        bias = Float32Array.from(b.data);
      } else if (f === 'FusedBatchNorm') {
        const [scale, offset, mean, variance] = args.slice(0, 4).map((a) => this.konst(a, `${what} batch norm`).data);
        const eps = attrFloat(node, 'epsilon', 0.001);
        const perOut = elementCount(filter.shape) / cout;
        const folded = Float32Array.from(filter.data);
        bias = new Float32Array(cout);
        for (let o = 0; o < cout; o++) {
          const k = scale[o] / Math.sqrt(variance[o] + eps);
          for (let i = 0; i < perOut; i++) folded[o * perOut + i] *= k;
          bias[o] = offset[o] - mean[o] * k;
        }
        filter = { dtype: 'float32', shape: filter.shape, data: folded };
      } else {
        if (activation) throw new Error(`${what}: more than one fused activation`);
        activation = f;
        if (f === 'Prelu') alphaRef = args[1];
      }
    }

    // Output shape and pads.
    const shape = x.shape ?? [-1, -1, -1, -1];
    const sh = spatialPad(shape[1], kh, strides[1], dilations[1], padding, [explicit[2], explicit[3]]);
    const sw = spatialPad(shape[2], kw, strides[2], dilations[2], padding, [explicit[4], explicit[5]]);
    const attrs: Record<string, AttrValue> = {
      kernel_shape: [kh, kw],
      strides: [strides[1], strides[2]],
      dilations: [dilations[1], dilations[2]],
      group,
    };
    if (sh && sw) attrs.pads = [sh.pads[0], sw.pads[0], sh.pads[1], sw.pads[1]];
    else attrs.auto_pad = 'SAME_UPPER';
    const outShape = [shape[0], sh ? sh.out : -1, sw ? sw.out : -1, cout];

    const inputs = [this.as(x, 'nchw'), this.b.addInitializer(`${node.name}/filter`, tensorProto('', filter))];
    if (bias) inputs.push(this.b.addInitializer(`${node.name}/bias`, tensorProto('', { dtype: 'float32', shape: [cout], data: bias })));
    let y = this.b.op('Conv', inputs, activation ? `${node.name}/conv` : node.name, attrs);
    if (activation) y = this.activation(activation, y, node.name, 'nchw', 4, node, alphaRef);
    this.out(node, y, 'nchw', outShape);
  }

  private pool(node: TfNodeDef): void {
    const what = `${node.op} ${node.name}`;
    if (attrString(node, 'data_format', 'NHWC') !== 'NHWC') throw new Error(`${what}: only NHWC data_format is supported`);
    const x = this.get(dataInputs(node)[0]);
    const ksize = attrInts(node, 'ksize');
    const strides = attrInts(node, 'strides');
    const padding = attrString(node, 'padding');
    if (ksize[0] !== 1 || ksize[3] !== 1 || strides[0] !== 1 || strides[3] !== 1) throw new Error(`${what}: pooling over batch/channels is not supported`);
    const shape = x.shape ?? [-1, -1, -1, -1];
    const sh = spatialPad(shape[1], ksize[1], strides[1], 1, padding, [0, 0]);
    const sw = spatialPad(shape[2], ksize[2], strides[2], 1, padding, [0, 0]);
    const attrs: Record<string, AttrValue> = { kernel_shape: [ksize[1], ksize[2]], strides: [strides[1], strides[2]] };
    if (sh && sw) attrs.pads = [sh.pads[0], sw.pads[0], sh.pads[1], sw.pads[1]];
    else attrs.auto_pad = 'SAME_UPPER';
    // TensorFlow's average pool divides by the number of real (unpadded) elements: count_include_pad = 0, ONNX's default.
    const y = this.b.op(node.op === 'MaxPool' ? 'MaxPool' : 'AveragePool', [this.as(x, 'nchw')], node.name, attrs);
    this.out(node, y, 'nchw', [shape[0], sh ? sh.out : -1, sw ? sw.out : -1, shape[3]], x.dtype);
  }

  private binary(node: TfNodeDef): void {
    const [a, b] = dataInputs(node).slice(0, 2).map((r) => this.get(r));
    const layout = this.commonLayout([a, b]);
    const rank = Math.max(this.rank(a) ?? 0, this.rank(b) ?? 0);
    const operand = (v: Val): string => (v.konst ? this.constOperand(v, layout, rank) : this.as(v, layout));
    const shape = broadcastShapes([a.shape, b.shape]);
    let y: string;
    if (node.op === 'Prelu') {
      y = this.activation('Prelu', this.as(a, layout), node.name, layout, rank, node, dataInputs(node)[1]);
    } else if (node.op === 'SquaredDifference') {
      const d = this.b.op('Sub', [operand(a), operand(b)], `${node.name}/diff`);
      y = this.b.op('Mul', [d, d], node.name);
    } else {
      const onnxOp: Record<string, string> = {
        Add: 'Add', AddV2: 'Add', BiasAdd: 'Add', Sub: 'Sub', Mul: 'Mul', RealDiv: 'Div', Div: 'Div', Maximum: 'Max', Minimum: 'Min', Pow: 'Pow',
      };
      y = this.b.op(onnxOp[node.op], [operand(a), operand(b)], node.name);
    }
    this.out(node, y, layout, shape, a.dtype);
  }

  private addN(node: TfNodeDef): void {
    const vals = dataInputs(node).map((r) => this.get(r));
    const layout = this.commonLayout(vals);
    const rank = Math.max(...vals.map((v) => this.rank(v) ?? 0));
    const names = vals.map((v) => (v.konst ? this.constOperand(v, layout, rank) : this.as(v, layout)));
    this.out(node, this.b.op('Sum', names, node.name), layout, broadcastShapes(vals.map((v) => v.shape)), vals[0].dtype);
  }

  private reduce(node: TfNodeDef): void {
    const ins = dataInputs(node);
    const x = this.get(ins[0]);
    const rank = this.rank(x);
    if (rank === null) throw new Error(`${node.op} ${node.name}: unknown input rank`);
    const keep = attrBool(node, 'keep_dims', false);
    const axes = Array.from(this.konst(ins[1], `${node.op} ${node.name}`).data, (a) => (a < 0 ? a + rank : a)).sort((p, q) => p - q);
    // Reduce in NCHW when the result's remaining axes stay in TensorFlow order.
    let layout: Layout = x.layout === 'nchw' && !x.konst ? 'nchw' : 'nhwc';
    if (layout === 'nchw' && !keep) {
      const remaining = NHWC_TO_NCHW.filter((logical) => !axes.includes(logical));
      if (remaining.some((v, i) => i > 0 && v < remaining[i - 1])) layout = 'nhwc';
    }
    const physAxes = layout === 'nchw' ? axes.map((a) => LOGICAL_TO_PHYSICAL[a]).sort((p, q) => p - q) : axes;
    const shape = x.shape ? (keep ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i))) : null;
    const onnxOp = { Mean: 'ReduceMean', Sum: 'ReduceSum', Max: 'ReduceMax', Min: 'ReduceMin', Prod: 'ReduceProd' }[node.op] as string;
    const xin = this.as(x, layout);
    const y = onnxOp === 'ReduceSum' // opset 13 takes ReduceSum's axes as an input, the others as an attribute
      ? this.b.op(onnxOp, [xin, this.b.int64Const(`${node.name}/axes`, physAxes)], node.name, { keepdims: keep ? 1 : 0 })
      : this.b.op(onnxOp, [xin], node.name, { axes: physAxes, keepdims: keep ? 1 : 0 });
    const outLayout: Layout = layout === 'nchw' && keep ? 'nchw' : 'nhwc';
    this.out(node, y, outLayout, shape, x.dtype);
  }

  private reshape(node: TfNodeDef): void {
    const ins = dataInputs(node);
    const x = this.get(ins[0]);
    const t = this.get(ins[1]);
    if (t.konst) {
      const target = Array.from(t.konst.data);
      if (target.includes(0)) throw new Error(`Reshape ${node.name}: zero-sized dimensions are not supported`);
      const y = this.b.op('Reshape', [this.as(x, 'nhwc'), this.b.int64Const(`${node.name}/shape`, target)], node.name);
      this.out(node, y, 'nhwc', reshapeResult(x.shape, target, new Set()), x.dtype);
      return;
    }
    // A target computed from shapes: where it copies a dimension of the input at the same
    // position (TensorFlow's Shape → StridedSlice → Pack idiom for the batch), ONNX Reshape's 0
    // ("keep this input dimension") makes it a constant.
    if (t.elems && x.shape) {
      const copied = new Set<number>();
      const target: number[] = [];
      for (const [i, e] of t.elems.entries()) {
        if (typeof e === 'number') {
          if (e === 0) throw new Error(`Reshape ${node.name}: zero-sized dimensions are not supported`);
          target.push(e);
        } else if (e.of === x && e.axis === i) {
          copied.add(i);
          target.push(0);
        } else {
          break;
        }
      }
      if (target.length === t.elems.length) {
        const y = this.b.op('Reshape', [this.as(x, 'nhwc'), this.b.int64Const(`${node.name}/shape`, target)], node.name);
        this.out(node, y, 'nhwc', reshapeResult(x.shape, target, copied), x.dtype);
        return;
      }
    }
    const shape64 = this.b.op('Cast', [this.as(t, 'nhwc')], `${node.name}/shape`, { to: DataType.INT64 });
    const y = this.b.op('Reshape', [this.as(x, 'nhwc'), shape64], node.name);
    const rank = t.shape && t.shape.length === 1 && t.shape[0] >= 0 ? t.shape[0] : null;
    this.out(node, y, 'nhwc', rank === null ? null : new Array<number>(rank).fill(-1), x.dtype);
  }

  /** TensorFlow DepthToSpace (NHWC) is ONNX DepthToSpace in DCR mode on NCHW: channel (i·b + j)·C + c goes to offset (i, j). */
  private depthToSpace(node: TfNodeDef): void {
    const what = `DepthToSpace ${node.name}`;
    if (attrString(node, 'data_format', 'NHWC') !== 'NHWC') throw new Error(`${what}: only NHWC data_format is supported`);
    const x = this.get(dataInputs(node)[0]);
    if (this.rank(x) !== 4) throw new Error(`${what}: input must be 4-D`);
    const bs = attrInt(node, 'block_size');
    const [n, h, w, c] = x.shape as number[];
    if (c > 0 && c % (bs * bs) !== 0) throw new Error(`${what}: ${c} channels do not divide into blocks of ${bs}x${bs}`);
    const y = this.b.op('DepthToSpace', [this.as(x, 'nchw')], node.name, { blocksize: bs, mode: 'DCR' });
    const mul = (d: number, k: number): number => (d < 0 ? -1 : d * k);
    this.out(node, y, 'nchw', [n, mul(h, bs), mul(w, bs), c < 0 ? -1 : c / (bs * bs)], x.dtype);
  }

  /**
   * TensorFlow ResizeBilinear → ONNX Resize (linear) on NCHW with explicit output sizes.
   * align_corners → 'align_corners'; half_pixel_centers → 'half_pixel' (source (o + ½)·in/out − ½,
   * clamped at the edges as both do); neither → 'asymmetric' (source o·in/out, TF's legacy mapping).
   */
  private resizeBilinear(node: TfNodeDef): void {
    const ins = dataInputs(node);
    const what = `ResizeBilinear ${node.name}`;
    const x = this.get(ins[0]);
    if (this.rank(x) !== 4) throw new Error(`${what}: input must be 4-D`);
    const size = Array.from(this.konst(ins[1], what).data);
    if (size.length !== 2 || !size.every((d) => d > 0)) throw new Error(`${what}: size must be two positive integers`);
    const alignCorners = attrBool(node, 'align_corners', false);
    const halfPixel = attrBool(node, 'half_pixel_centers', false);
    if (alignCorners && halfPixel) throw new Error(`${what}: align_corners and half_pixel_centers cannot both be set`);
    const shape = x.shape as number[];
    const xin = this.as(x, 'nchw');
    let sizes: string;
    if (shape[0] >= 0 && shape[3] >= 0) {
      sizes = this.b.int64Const(`${node.name}/sizes`, [shape[0], shape[3], size[0], size[1]]);
    } else {
      const nc = this.b.op('Slice', [this.b.op('Shape', [xin], `${node.name}/shape`), this.b.int64Const(`${node.name}/zero`, [0]), this.b.int64Const(`${node.name}/two`, [2])], `${node.name}/nc`);
      sizes = this.b.op('Concat', [nc, this.b.int64Const(`${node.name}/hw`, size)], `${node.name}/sizes`, { axis: 0 });
    }
    const y = this.b.op('Resize', [xin, '', '', sizes], node.name, {
      mode: 'linear',
      coordinate_transformation_mode: alignCorners ? 'align_corners' : halfPixel ? 'half_pixel' : 'asymmetric',
    });
    this.out(node, y, 'nchw', [shape[0], size[0], size[1], shape[3]], x.dtype);
  }

  /** TensorFlow Shape: a constant when the shape is known, else ONNX Shape (in TensorFlow axis order). */
  private shapeOp(node: TfNodeDef): void {
    const x = this.get(dataInputs(node)[0]);
    const dtype = onnxTypeOfTf(node.attr?.out_type?.type ?? 'DT_INT32');
    if (dtype !== DataType.INT32 && dtype !== DataType.INT64) throw new Error(`Shape ${node.name}: out_type must be int32 or int64`);
    const emit = (): string => {
      let y = this.b.op('Shape', [this.as(x, x.layout)], dtype === DataType.INT64 ? node.name : `${node.name}/i64`);
      if (x.layout === 'nchw' && !x.konst) y = this.b.op('Gather', [y, this.b.int64Const(`${node.name}/nhwc`, NCHW_TO_NHWC)], `${node.name}/nhwc`, { axis: 0 });
      return dtype === DataType.INT64 ? y : this.b.op('Cast', [y], node.name, { to: DataType.INT32 });
    };
    if (!x.shape) {
      this.out(node, emit(), 'nhwc', [-1], dtype);
      return;
    }
    const dims = x.shape;
    if (!dims.includes(-1)) {
      this.setKonst(node, { dtype: 'int32', shape: [dims.length], data: Int32Array.from(dims) });
      return;
    }
    this.set(node, { name: '', layout: 'nhwc', shape: [dims.length], dtype, base: node.name, elems: dims.map((d, axis) => (d >= 0 ? d : { of: x, axis })), lazy: emit });
  }

  /**
   * TensorFlow StridedSlice with begin/end/strides constant (ellipsis and new-axis masks are not
   * supported). Computed on the host for constants and shape-derived values; otherwise ONNX Slice,
   * then Squeeze for shrink_axis_mask.
   */
  private stridedSlice(node: TfNodeDef): void {
    const ins = dataInputs(node);
    const what = `StridedSlice ${node.name}`;
    const x = this.get(ins[0]);
    const begin = Array.from(this.konst(ins[1], what).data);
    const end = Array.from(this.konst(ins[2], what).data);
    const strides = Array.from(this.konst(ins[3], what).data);
    const beginMask = attrInt(node, 'begin_mask', 0);
    const endMask = attrInt(node, 'end_mask', 0);
    const shrinkMask = attrInt(node, 'shrink_axis_mask', 0);
    if (attrInt(node, 'ellipsis_mask', 0) !== 0 || attrInt(node, 'new_axis_mask', 0) !== 0) throw new Error(`${what}: ellipsis_mask and new_axis_mask are not supported`);
    const rank = this.rank(x);
    if (rank === null) throw new Error(`${what}: unknown input rank`);
    const m = begin.length;
    if (end.length !== m || strides.length !== m || m > rank) throw new Error(`${what}: begin, end and strides must have one value per sliced axis (at most ${rank})`);
    if (strides.includes(0)) throw new Error(`${what}: a stride is 0`);
    const specs: SliceSpec[] = begin.map((b, i) => ({
      begin: b, end: end[i], stride: strides[i],
      beginMask: (beginMask >> i & 1) === 1, endMask: (endMask >> i & 1) === 1, shrink: (shrinkMask >> i & 1) === 1,
    }));
    const inShape = x.shape as number[];
    const picks = inShape.map((d, i) => (i < m ? (d >= 0 ? sliceIndices(specs[i], d, what) : null) : d >= 0 ? [...Array(d).keys()] : null));
    const shape = inShape.flatMap((d, i) => (i < m && specs[i].shrink ? [] : [picks[i]?.length ?? -1]));

    // On the host: constants, and shape-derived values whose picked elements are all known.
    if (x.konst && picks.every((p) => p !== null)) {
      this.setKonst(node, gatherHost(x.konst, picks as number[][], shape));
      return;
    }
    const emit = (): string => {
      const nchw = x.layout === 'nchw' && !x.konst && !specs.some((s) => s.shrink);
      const axes: number[] = [];
      const starts: number[] = [];
      const ends: number[] = [];
      const steps: number[] = [];
      specs.forEach((s, i) => {
        if (!s.shrink && s.beginMask && s.endMask && s.stride === 1) return; // the whole axis
        axes.push(nchw ? LOGICAL_TO_PHYSICAL[i] : i);
        starts.push(s.beginMask && !s.shrink ? (s.stride > 0 ? 0 : BIG) : s.begin);
        ends.push(s.shrink ? (s.begin === -1 ? BIG : s.begin + 1) : s.endMask ? (s.stride > 0 ? BIG : -BIG) : s.end);
        steps.push(s.shrink ? 1 : s.stride);
      });
      const xin = this.as(x, nchw ? 'nchw' : 'nhwc');
      const shrunk = specs.flatMap((s, i) => (s.shrink ? [i] : []));
      let y = xin;
      if (axes.length > 0) {
        y = this.b.op('Slice', [
          xin, this.b.int64Const(`${node.name}/starts`, starts), this.b.int64Const(`${node.name}/ends`, ends),
          this.b.int64Const(`${node.name}/axes`, axes), this.b.int64Const(`${node.name}/steps`, steps),
        ], shrunk.length > 0 ? `${node.name}/slice` : node.name);
      }
      if (shrunk.length > 0) y = this.b.op('Squeeze', [y, this.b.int64Const(`${node.name}/squeeze`, shrunk)], node.name);
      else if (y === xin) y = this.b.op('Identity', [xin], node.name);
      return y;
    };
    if (x.elems && rank === 1 && picks[0] !== null) {
      const elems = (picks[0] as number[]).map((i) => (x.elems as ShapeElem[])[i]);
      if (elems.every((e): e is number => typeof e === 'number')) {
        this.setKonst(node, { dtype: 'int32', shape, data: Int32Array.from(elems) });
        return;
      }
      this.set(node, { name: '', layout: 'nhwc', shape, dtype: x.dtype, base: node.name, elems, lazy: emit });
      return;
    }
    const nchw = x.layout === 'nchw' && !x.konst && !specs.some((s) => s.shrink);
    this.out(node, emit(), nchw ? 'nchw' : 'nhwc', shape, x.dtype);
  }

  /** TensorFlow Pack (tf.stack): host-computed for constants and shape-derived scalars, else Unsqueeze + Concat. */
  private pack(node: TfNodeDef): void {
    const ins = dataInputs(node);
    const what = `Pack ${node.name}`;
    const vals = ins.map((r) => this.get(r));
    const first = vals[0].shape;
    if (!first || vals.some((v) => !v.shape || v.shape.length !== first.length)) throw new Error(`${what}: inputs must have one known rank`);
    let axis = attrInt(node, 'axis', 0);
    if (axis < 0) axis += first.length + 1;
    if (axis < 0 || axis > first.length) throw new Error(`${what}: axis out of range`);
    const shape = [...first.slice(0, axis), vals.length, ...first.slice(axis)];
    if (vals.every((v) => v.konst)) {
      this.setKonst(node, stackHost(vals.map((v) => v.konst as HostTensor), axis, what));
      return;
    }
    const emit = (): string => {
      const parts = vals.map((v) => this.b.op('Unsqueeze', [this.as(v, 'nhwc'), this.b.int64Const(`${node.name}/axes`, [axis])], `${node.name}/part`));
      return this.b.op('Concat', parts, node.name, { axis });
    };
    if (first.length === 0 && vals.every((v) => v.konst || (v.elems && v.elems.length === 1))) {
      const elems = vals.map((v): ShapeElem => (v.konst ? v.konst.data[0] : (v.elems as ShapeElem[])[0]));
      this.set(node, { name: '', layout: 'nhwc', shape, dtype: vals.find((v) => !v.konst)?.dtype ?? DataType.INT32, base: node.name, elems, lazy: emit });
      return;
    }
    this.out(node, emit(), 'nhwc', shape, vals.find((v) => !v.konst)?.dtype ?? vals[0].dtype);
  }

  private setKonst(node: TfNodeDef, t: HostTensor): void {
    this.set(node, { name: '', layout: 'nhwc', shape: [...t.shape], dtype: onnxTypeOfHost(t), konst: t, base: node.name });
  }

  private pad(node: TfNodeDef): void {
    const ins = dataInputs(node);
    const x = this.get(ins[0]);
    const p = this.konst(ins[1], `${node.op} ${node.name}`);
    const rank = p.shape[0];
    const layout: Layout = x.layout === 'nchw' && !x.konst && rank === 4 ? 'nchw' : 'nhwc';
    const order = layout === 'nchw' ? NHWC_TO_NCHW : [...Array(rank).keys()];
    const pads = [...order.map((a) => p.data[2 * a]), ...order.map((a) => p.data[2 * a + 1])];
    const inputs = [this.as(x, layout), this.b.int64Const(`${node.name}/pads`, pads)];
    let mode = 'constant';
    if (node.op === 'PadV2') {
      const c = this.konst(ins[2], `PadV2 ${node.name}`);
      inputs.push(this.b.floatConst(`${node.name}/value`, [c.data[0]], []));
    } else if (node.op === 'MirrorPad') {
      const m = attrString(node, 'mode');
      if (m !== 'REFLECT') throw new Error(`MirrorPad ${node.name}: mode ${m} is not supported`);
      mode = 'reflect';
    }
    const shape = x.shape ? x.shape.map((d, i) => (d < 0 ? -1 : d + p.data[2 * i] + p.data[2 * i + 1])) : null;
    this.out(node, this.b.op('Pad', inputs, node.name, { mode }), layout, shape, x.dtype);
  }

  private concat(node: TfNodeDef): void {
    const ins = dataInputs(node);
    const n = attrInt(node, 'N', ins.length - 1);
    const vals = ins.slice(0, n).map((r) => this.get(r));
    const rank = this.rank(vals[0]);
    if (rank === null) throw new Error(`ConcatV2 ${node.name}: unknown input rank`);
    let axis = this.konst(ins[n], `ConcatV2 ${node.name}`).data[0];
    if (axis < 0) axis += rank;
    const layout = this.commonLayout(vals);
    const names = vals.map((v) => (v.konst && layout === 'nchw' ? this.constOperand(v, layout, rank) : this.as(v, layout)));
    const shape = vals.every((v) => v.shape) ? (vals[0].shape as number[]).map((d, i) => (i !== axis ? d : vals.some((v) => (v.shape as number[])[i] < 0) ? -1 : vals.reduce((s, v) => s + (v.shape as number[])[i], 0))) : null;
    this.out(node, this.b.op('Concat', names, node.name, { axis: layout === 'nchw' ? LOGICAL_TO_PHYSICAL[axis] : axis }), layout, shape, vals[0].dtype);
  }

  private matmul(node: TfNodeDef): void {
    const ins = dataInputs(node);
    const operand = (ref: string, transpose: boolean): { name: string; shape: number[] | null } => {
      const v = this.get(ref);
      if (v.konst && transpose) {
        const t = transposeHost(v.konst, [1, 0]);
        return { name: this.b.addInitializer(`${v.base}/T`, tensorProto('', t)), shape: t.shape };
      }
      const name = this.as(v, 'nhwc');
      if (!transpose) return { name, shape: v.shape };
      return { name: this.b.op('Transpose', [name], `${v.base}/T`, { perm: [1, 0] }), shape: v.shape ? [v.shape[1], v.shape[0]] : null };
    };
    const a = operand(ins[0], attrBool(node, 'transpose_a', false));
    const b = operand(ins[1], attrBool(node, 'transpose_b', false));
    const shape = a.shape && b.shape ? [a.shape[0], b.shape[1]] : null;
    this.out(node, this.b.op('MatMul', [a.name, b.name], node.name), 'nhwc', shape);
  }
}

/** Converts a graph model read by `readTfjsGraphModel` to an ONNX model. */
export function convertGraphModel(model: TfjsGraphModel, options: ConvertOptions = {}): ConvertResult {
  return new Converter(model).convert(options);
}
