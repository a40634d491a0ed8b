/**
 * Reading a TensorFlow.js graph model from disk: the model.json (whose `modelTopology` is a
 * TensorFlow GraphDef written as JSON) and the weight binaries named by its `weightsManifest`.
 *
 * Weights are decoded to host tensors (float32 / int32 / bool), undoing the tfjs weight
 * quantisations (uint8 / uint16 affine, float16).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** TensorFlow DataType enum names as they appear in the JSON GraphDef. */
export type TfDataType = 'DT_FLOAT' | 'DT_INT32' | 'DT_INT64' | 'DT_BOOL' | 'DT_HALF' | 'DT_STRING' | string;

export interface TfDim { size?: string | number }
export interface TfTensorShape { dim?: TfDim[]; unknownRank?: boolean }

/** A TensorProto in JSON form (only the fields a graph model uses for inline constants). */
export interface TfTensorJson {
  dtype?: TfDataType;
  tensorShape?: TfTensorShape;
  tensorContent?: string; // base64, little-endian packed values
  floatVal?: number[];
  intVal?: number[];
  int64Val?: (string | number)[];
  boolVal?: boolean[];
  halfVal?: number[];
}

/** An AttrValue in JSON form. Integers are written as decimal strings, byte strings as base64. */
export interface TfAttrValue {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: TfDataType;
  shape?: TfTensorShape;
  tensor?: TfTensorJson;
  list?: { s?: string[]; i?: (string | number)[]; f?: number[]; b?: boolean[]; type?: TfDataType[]; shape?: TfTensorShape[] };
}

export interface TfNodeDef {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttrValue>;
  device?: string;
}

export interface TfGraphDef {
  node: TfNodeDef[];
  library?: unknown;
  versions?: unknown;
}

export interface TfjsQuantization {
  dtype: 'uint8' | 'uint16' | 'float16';
  scale?: number;
  min?: number;
  original_dtype?: string;
}

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool' | 'string' | 'complex64';
  quantization?: TfjsQuantization;
}

export interface TfjsWeightGroup {
  paths: string[];
  weights: TfjsWeightSpec[];
}

export interface TfjsSignatureEntry {
  name: string;
  dtype?: TfDataType;
  tensorShape?: TfTensorShape;
}

export interface TfjsSignature {
  inputs?: Record<string, TfjsSignatureEntry>;
  outputs?: Record<string, TfjsSignatureEntry>;
}

export interface TfjsModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  signature?: TfjsSignature;
  userDefinedMetadata?: { signature?: TfjsSignature } & Record<string, unknown>;
  modelTopology: TfGraphDef;
  weightsManifest: TfjsWeightGroup[];
}

/** Element types the converter computes with on the host. */
export type HostDType = 'float32' | 'int32' | 'bool';

/** A dense tensor held in memory, row-major. */
export interface HostTensor {
  dtype: HostDType;
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

/** A graph model read from disk: the JSON and its decoded weights by tensor name. */
export interface TfjsGraphModel {
  json: TfjsModelJson;
  weights: Map<string, HostTensor>;
  /** Concatenated raw weight bytes per manifest group, in manifest order (for a tfjs IOHandler). */
  weightData: ArrayBuffer;
  /** Weight specs in the same order as `weightData`. */
  weightSpecs: TfjsWeightSpec[];
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** IEEE 754 binary16 to number. */
export function halfToFloat(h: number): number {
  const sign = (h & 0x8000) !== 0 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function bytesPerStoredElement(spec: TfjsWeightSpec): number {
  const q = spec.quantization;
  if (q) {
    if (q.dtype === 'uint8') return 1;
    if (q.dtype === 'uint16' || q.dtype === 'float16') return 2;
    throw new Error(`weight ${spec.name}: unsupported quantisation dtype ${String(q.dtype)}`);
  }
  if (spec.dtype === 'float32' || spec.dtype === 'int32') return 4;
  if (spec.dtype === 'bool') return 1;
  throw new Error(`weight ${spec.name}: unsupported dtype ${spec.dtype}`);
}

/** Decodes one weight from its stored bytes (a view of exactly its bytes). */
export function decodeWeight(spec: TfjsWeightSpec, bytes: Uint8Array): HostTensor {
  const n = elementCount(spec.shape);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const q = spec.quantization;
  const dtype: HostDType = spec.dtype === 'float32' ? 'float32' : spec.dtype === 'int32' ? 'int32' : spec.dtype === 'bool' ? 'bool' : 'float32';
  if (spec.dtype !== 'float32' && spec.dtype !== 'int32' && spec.dtype !== 'bool') {
    throw new Error(`weight ${spec.name}: unsupported dtype ${spec.dtype}`);
  }
  const stored = new Float64Array(n);
  if (q) {
    for (let i = 0; i < n; i++) {
      if (q.dtype === 'uint8') stored[i] = view.getUint8(i) * (q.scale ?? 1) + (q.min ?? 0);
      else if (q.dtype === 'uint16') stored[i] = view.getUint16(2 * i, true) * (q.scale ?? 1) + (q.min ?? 0);
      else stored[i] = halfToFloat(view.getUint16(2 * i, true));
    }
  }
  if (dtype === 'float32') {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = q ? stored[i] : view.getFloat32(4 * i, true);
    return { dtype, shape: [...spec.shape], data };
  }
  if (dtype === 'int32') {
    const data = new Int32Array(n);
    for (let i = 0; i < n; i++) data[i] = q ? Math.round(stored[i]) : view.getInt32(4 * i, true);
    return { dtype, shape: [...spec.shape], data };
  }
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = (q ? stored[i] : view.getUint8(i)) !== 0 ? 1 : 0;
  return { dtype, shape: [...spec.shape], data };
}

/** Reads model.json and every weight file it names (paths relative to the JSON). */
export function readTfjsGraphModel(modelJsonPath: string): TfjsGraphModel {
  const json = JSON.parse(fs.readFileSync(modelJsonPath, 'utf8')) as TfjsModelJson;
  if (json.format !== undefined && json.format !== 'graph-model') {
    throw new Error(`${modelJsonPath}: format is ${json.format}, expected graph-model`);
  }
  if (!json.modelTopology || !Array.isArray(json.modelTopology.node)) {
    throw new Error(`${modelJsonPath}: no modelTopology.node (not a tfjs graph model)`);
  }
  const dir = path.dirname(modelJsonPath);
  const weights = new Map<string, HostTensor>();
  const chunks: Buffer[] = [];
  const weightSpecs: TfjsWeightSpec[] = [];
  for (const group of json.weightsManifest ?? []) {
    const groupBytes = Buffer.concat(group.paths.map((p) => fs.readFileSync(path.join(dir, p))));
    chunks.push(groupBytes);
    let offset = 0;
    for (const spec of group.weights) {
      const size = elementCount(spec.shape) * bytesPerStoredElement(spec);
      if (offset + size > groupBytes.length) {
        throw new Error(`weight ${spec.name}: needs bytes ${offset}..${offset + size} but its group has ${groupBytes.length}`);
      }
      weights.set(spec.name, decodeWeight(spec, groupBytes.subarray(offset, offset + size)));
      weightSpecs.push(spec);
      offset += size;
    }
  }
  const all = Buffer.concat(chunks);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  return { json, weights, weightData, weightSpecs };
}

/** The graph's signature, wherever the converter that wrote it put it. */
export function signatureOf(json: TfjsModelJson): TfjsSignature | undefined {
  return json.signature ?? json.userDefinedMetadata?.signature;
}

export function shapeFromTf(shape: TfTensorShape | undefined): number[] | null {
  if (!shape || shape.unknownRank) return null;
  return (shape.dim ?? []).map((d) => (d.size === undefined ? 1 : Number(d.size)));
}

/** Decodes a constant written inline in a NodeDef's `value` attribute. */
export function decodeInlineTensor(t: TfTensorJson, name: string): HostTensor {
  const shape = shapeFromTf(t.tensorShape) ?? [];
  const n = elementCount(shape);
  const dtype = t.dtype ?? 'DT_FLOAT';
  const content = t.tensorContent !== undefined ? Buffer.from(t.tensorContent, 'base64') : undefined;
  const fill = <T extends Float32Array | Int32Array | Uint8Array>(out: T, values: ArrayLike<number> | undefined): T => {
    // A proto with fewer values than elements repeats its last value (TensorProto semantics).
    if (!values || values.length === 0) return out;
    for (let i = 0; i < out.length; i++) out[i] = values[Math.min(i, values.length - 1)];
    return out;
  };
  if (dtype === 'DT_FLOAT') {
    const data = new Float32Array(n);
    if (content) { for (let i = 0; i < n; i++) data[i] = content.readFloatLE(4 * i); return { dtype: 'float32', shape, data }; }
    return { dtype: 'float32', shape, data: fill(data, t.floatVal) };
  }
  if (dtype === 'DT_HALF') {
    const data = new Float32Array(n);
    if (content) { for (let i = 0; i < n; i++) data[i] = halfToFloat(content.readUInt16LE(2 * i)); return { dtype: 'float32', shape, data }; }
    return { dtype: 'float32', shape, data: fill(data, (t.halfVal ?? []).map(halfToFloat)) };
  }
  if (dtype === 'DT_INT32') {
    const data = new Int32Array(n);
    if (content) { for (let i = 0; i < n; i++) data[i] = content.readInt32LE(4 * i); return { dtype: 'int32', shape, data }; }
    return { dtype: 'int32', shape, data: fill(data, t.intVal) };
  }
  if (dtype === 'DT_INT64') {
    const data = new Int32Array(n);
    if (content) { for (let i = 0; i < n; i++) data[i] = Number(content.readBigInt64LE(8 * i)); return { dtype: 'int32', shape, data }; }
    return { dtype: 'int32', shape, data: fill(data, (t.int64Val ?? []).map(Number)) };
  }
  if (dtype === 'DT_BOOL') {
    const data = new Uint8Array(n);
    if (content) { for (let i = 0; i < n; i++) data[i] = content[i] !== 0 ? 1 : 0; return { dtype: 'bool', shape, data }; }
    return { dtype: 'bool', shape, data: fill(data, (t.boolVal ?? []).map((b) => (b ? 1 : 0))) };
  }
  throw new Error(`constant ${name}: unsupported inline dtype ${dtype}`);
}

/** Attribute helpers: the JSON GraphDef writes strings base64-encoded and int64 as strings. */
export function attrString(node: TfNodeDef, key: string, fallback?: string): string {
  const v = node.attr?.[key]?.s;
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new Error(`${node.op} ${node.name}: missing attribute ${key}`);
  }
  return Buffer.from(v, 'base64').toString('utf8');
}

export function attrStrings(node: TfNodeDef, key: string): string[] {
  return (node.attr?.[key]?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('utf8'));
}

export function attrInts(node: TfNodeDef, key: string, fallback?: number[]): number[] {
  const list = node.attr?.[key]?.list?.i;
  if (list === undefined || list.length === 0) {
    if (fallback !== undefined) return fallback;
    throw new Error(`${node.op} ${node.name}: missing attribute ${key}`);
  }
  return list.map(Number);
}

export function attrInt(node: TfNodeDef, key: string, fallback?: number): number {
  const v = node.attr?.[key]?.i;
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new Error(`${node.op} ${node.name}: missing attribute ${key}`);
  }
  return Number(v);
}

export function attrFloat(node: TfNodeDef, key: string, fallback: number): number {
  return node.attr?.[key]?.f ?? fallback;
}

export function attrBool(node: TfNodeDef, key: string, fallback: boolean): boolean {
  return node.attr?.[key]?.b ?? fallback;
}
