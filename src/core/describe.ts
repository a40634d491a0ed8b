/** A short, printable description of a value for an error message (never the whole value). */
export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'nothing';
  if (Array.isArray(x)) return `an array of ${x.length}`;
  if (typeof x === 'string') {
    const printable = x.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
    return `"${printable.length > 30 ? printable.slice(0, 30) + '…' : printable}"`;
  }
  if (typeof x === 'number') return String(x);
  if (typeof x === 'object') return ArrayBuffer.isView(x) ? 'a typed array' : 'an object';
  return typeof x === 'bigint' ? 'a bigint' : typeof x;
}
