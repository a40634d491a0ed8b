/**
 * The texts a node shows (status, its own errors) from its message catalogue,
 * locales/<lang>/<node>.json beside the built node (npm run build copies them), through Node-RED's
 * RED._ in the runtime's language. Where RED._ has no catalogue for the node (it hands the key
 * back: a node loaded outside Node-RED's registry, such as by node-red-node-test-helper, whose
 * RED._ returns its argument), the English catalogue is read here instead, so a node always shows
 * a text and never a key. Errors from src/ (shared with the command line) stay English.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { NodeAPI } from './red';

export type Substitutions = Record<string, string | number>;
/** A text of the node's catalogue by its key below the node's name ("status.ready"). */
export type Translate = (key: string, substitutions?: Substitutions) => string;

const english = new Map<string, unknown>();

/** The English catalogue of a node (dist/nodes/<node>/locales/en-US/<node>.json), read once. */
export function englishCatalogue(node: string): unknown {
  let catalogue = english.get(node);
  if (catalogue === undefined) {
    const file = path.join(__dirname, '..', node, 'locales', 'en-US', `${node}.json`);
    catalogue = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    english.set(node, catalogue);
  }
  return catalogue;
}

/** The text at a dotted key of a catalogue, or undefined. */
export function lookup(catalogue: unknown, key: string): string | undefined {
  let at: unknown = catalogue;
  for (const part of key.split('.')) {
    if (typeof at !== 'object' || at === null || !(part in at)) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return typeof at === 'string' ? at : undefined;
}

/** `__name__` replaced by the substitution of that name, as Node-RED's i18next is set up to do. */
export function interpolate(text: string, substitutions: Substitutions = {}): string {
  return text.replace(/__([A-Za-z0-9_]+?)__/g, (whole, name: string) => (name in substitutions ? String(substitutions[name]) : whole));
}

/** The translate function of a node type (`cer-media`): its texts in the runtime's language. */
export function translator(RED: Pick<NodeAPI, '_'>, node: string): Translate {
  return (key, substitutions) => {
    const full = `${node}.${key}`;
    const text = RED._(full, substitutions);
    if (typeof text === 'string' && text !== '' && text !== full && !text.endsWith(`:${full}`)) return text;
    const en = lookup(englishCatalogue(node), full);
    if (en === undefined) throw new Error(`${node}: no text "${full}" in locales/en-US/${node}.json`);
    return interpolate(en, substitutions);
  };
}
