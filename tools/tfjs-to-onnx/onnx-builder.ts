/**
 * A small builder for ONNX graphs on top of the `onnx-proto` protobufjs classes: unique value
 * names, nodes with typed attributes, initialisers from host tensors, and deterministic encoding.
 */
import { onnx } from 'onnx-proto';

import type { HostTensor } from './tfjs-model';

export const DataType = onnx.TensorProto.DataType;
export type OnnxDataType = onnx.TensorProto.DataType;

/** Attribute values accepted by `OnnxGraphBuilder.node`. */
export type AttrValue = number | string | number[] | { float: number } | { floats: number[] } | { tensor: onnx.ITensorProto };

export interface ValueSpec {
  name: string;
  dtype: OnnxDataType;
  /** Dimensions; a negative number is a symbolic dimension named by `dimNames` or left unnamed. */
  shape: number[] | null;
}

export const IR_VERSION = 8;
export const DEFAULT_OPSET = 13;

function encodeAttribute(name: string, value: AttrValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: ${value} is not an integer (use { float })`);
    return { name, type: T.INT, i: value };
  }
  if (typeof value === 'string') return { name, type: T.STRING, s: Buffer.from(value, 'utf8') };
  if (Array.isArray(value)) {
    for (const v of value) if (!Number.isInteger(v)) throw new Error(`attribute ${name}: ${v} is not an integer`);
    return { name, type: T.INTS, ints: value };
  }
  if ('float' in value) return { name, type: T.FLOAT, f: value.float };
  if ('floats' in value) return { name, type: T.FLOATS, floats: value.floats };
  return { name, type: T.TENSOR, t: value.tensor };
}

/** Little-endian raw bytes of a typed array (copies; safe on any host endianness via DataView). */
function rawBytes(data: Float32Array | Int32Array | Uint8Array | BigInt64Array): Uint8Array {
  if (data instanceof Uint8Array) return Uint8Array.from(data);
  const size = data instanceof BigInt64Array ? 8 : 4;
  const out = new Uint8Array(data.length * size);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(4 * i, data[i], true);
    else if (data instanceof Int32Array) view.setInt32(4 * i, data[i], true);
    else view.setBigInt64(8 * i, data[i], true);
  }
  return out;
}

export function tensorProto(name: string, t: HostTensor): onnx.ITensorProto {
  const dataType = t.dtype === 'float32' ? DataType.FLOAT : t.dtype === 'int32' ? DataType.INT32 : DataType.BOOL;
  return { name, dims: [...t.shape], dataType, rawData: rawBytes(t.data) };
}

export function int64TensorProto(name: string, values: readonly number[], shape: readonly number[] = [values.length]): onnx.ITensorProto {
  return { name, dims: [...shape], dataType: DataType.INT64, rawData: rawBytes(BigInt64Array.from(values.map((v) => BigInt(v)))) };
}

export function floatTensorProto(name: string, values: readonly number[], shape: readonly number[] = [values.length]): onnx.ITensorProto {
  return { name, dims: [...shape], dataType: DataType.FLOAT, rawData: rawBytes(Float32Array.from(values)) };
}

function valueInfo(spec: ValueSpec, dimNames: Record<number, string>): onnx.IValueInfoProto {
  const tensorType: onnx.TypeProto.ITensor = { elemType: spec.dtype };
  if (spec.shape) {
    tensorType.shape = {
      dim: spec.shape.map((d, axis) => (d >= 0 ? { dimValue: d } : dimNames[axis] !== undefined ? { dimParam: dimNames[axis] } : {})),
    };
  }
  return { name: spec.name, type: { tensorType } };
}

export class OnnxGraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly used = new Set<string>();
  private readonly constCache = new Map<string, string>();

  /** Symbolic names for dimensions by axis (axis 0 is the batch). */
  constructor(private readonly dimNames: Record<number, string> = { 0: 'N' }) {}

  /** Reserves a value name, suffixing a counter when it is taken. */
  uniqueName(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  addInput(spec: ValueSpec): void {
    this.used.add(spec.name);
    this.inputs.push(valueInfo(spec, this.dimNames));
  }

  addOutput(spec: ValueSpec): void {
    this.outputs.push(valueInfo(spec, this.dimNames));
  }

  /** Adds an initialiser and returns its (unique) name. */
  addInitializer(baseName: string, proto: onnx.ITensorProto): string {
    const name = this.uniqueName(baseName);
    this.initializers.push({ ...proto, name });
    return name;
  }

  /** An int64 1-D (or given shape) constant, shared between uses with identical contents. */
  int64Const(baseName: string, values: readonly number[], shape?: readonly number[]): string {
    const key = `i64:${JSON.stringify(shape ?? null)}:${values.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit !== undefined) return hit;
    const name = this.addInitializer(baseName, int64TensorProto(baseName, values, shape));
    this.constCache.set(key, name);
    return name;
  }

  floatConst(baseName: string, values: readonly number[], shape?: readonly number[]): string {
    const key = `f32:${JSON.stringify(shape ?? null)}:${values.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit !== undefined) return hit;
    const name = this.addInitializer(baseName, floatTensorProto(baseName, values, shape));
    this.constCache.set(key, name);
    return name;
  }

  /**
   * Adds a node. `outputs` are base names made unique here; returns the actual output names.
   * An empty-string input stands for an omitted optional input.
   */
  node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}, nodeName?: string): string[] {
    const outNames = outputs.map((o) => this.uniqueName(o));
    const attribute = Object.keys(attrs).sort().map((k) => encodeAttribute(k, attrs[k]));
    this.nodes.push({ opType, input: inputs, output: outNames, name: nodeName ?? outNames[0], attribute });
    return outNames;
  }

  /** Marks a name as taken so that no generated value claims it (for graph outputs). */
  reserve(name: string): void {
    if (this.used.has(name)) throw new Error(`ONNX value name ${name} is already taken`);
    this.used.add(name);
  }

  /** Adds a node writing to names reserved earlier with `reserve` (no renaming). */
  nodeExact(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}): void {
    const attribute = Object.keys(attrs).sort().map((k) => encodeAttribute(k, attrs[k]));
    this.nodes.push({ opType, input: inputs, output: outputs, name: outputs[0], attribute });
  }

  /** One-output convenience over `node`. */
  op(opType: string, inputs: string[], output: string, attrs: Record<string, AttrValue> = {}): string {
    return this.node(opType, inputs, [output], attrs)[0];
  }

  build(options: { graphName: string; opset?: number; producerName: string; producerVersion: string; docString?: string; metadata?: Record<string, string> }): onnx.ModelProto {
    const graph: onnx.IGraphProto = {
      name: options.graphName,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    };
    return onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: options.opset ?? DEFAULT_OPSET }],
      producerName: options.producerName,
      producerVersion: options.producerVersion,
      docString: options.docString ?? '',
      graph,
      metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    });
  }
}

export function encodeModel(model: onnx.ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}
