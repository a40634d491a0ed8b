/** Reading a node's settings as the editor saves them. */

/** A finite number from an editor field (strings included), or the fallback. */
export function numberField(value: unknown, fallback: number): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return fallback;
}
