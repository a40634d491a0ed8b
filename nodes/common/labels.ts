/** True labels of media for fitting weights: msg.label, labels.json beside a file, or RAVDESS file names. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BASIC_EMOTIONS, canonicalLabel, NUM_BASIC, type BasicEmotion } from '../../src/core';

/** RAVDESS emotion codes (the third field of the file name); calm (02) is left out. */
const RAVDESS: Readonly<Record<string, BasicEmotion | null>> = {
  '01': 'Neutral',
  '02': null,
  '03': 'Happiness',
  '04': 'Sadness',
  '05': 'Anger',
  '06': 'Fear',
  '07': 'Disgust',
  '08': 'Surprise',
};

const labelFiles = new Map<string, Record<string, unknown> | null>();

/** A label as a canonical index, or null when it names no basic emotion. */
export function labelIndex(label: unknown): number | null {
  if (typeof label === 'number') return Number.isInteger(label) && label >= 0 && label < NUM_BASIC ? label : null;
  if (typeof label !== 'string') return null;
  if (/^\d$/.test(label.trim())) return labelIndex(Number(label));
  const name = canonicalLabel(label);
  return name === undefined || name === 'Other' ? null : BASIC_EMOTIONS.indexOf(name);
}

/** The true label of a source file: labels.json beside it, else its RAVDESS code. */
export function labelOfSource(source: string): number | null {
  const dir = path.dirname(path.resolve(source));
  let table = labelFiles.get(dir);
  if (table === undefined) {
    try {
      table = JSON.parse(fs.readFileSync(path.join(dir, 'labels.json'), 'utf8')) as Record<string, unknown>;
    } catch {
      table = null;
    }
    labelFiles.set(dir, table);
  }
  const base = path.basename(source);
  if (table !== null && base in table) return labelIndex(table[base]);
  const m = /^\d\d-\d\d-(\d\d)-\d\d-\d\d-\d\d-\d\d\.\w+$/.exec(base);
  if (m) {
    const name = RAVDESS[m[1]];
    return name ? BASIC_EMOTIONS.indexOf(name) : null;
  }
  return null;
}

