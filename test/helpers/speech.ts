/**
 * Speech made here by espeak-ng (installed by tools/setup.sh), for tests that need utterances of
 * several speakers without copying a corpus into the repository: a few voices, and prosody (pitch,
 * rate, loudness) standing in for the emotion of each utterance.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveFfmpeg } from '../../src/media/binaries';

export interface Utterance {
  /** File name in the folder (a .wav). */
  readonly file: string;
  readonly text: string;
  /** espeak-ng voice, e.g. `en-us`, `de+f3`. */
  readonly voice: string;
  /** espeak-ng pitch 0–99. */
  readonly pitch: number;
  /** espeak-ng words per minute. */
  readonly rate: number;
  /** espeak-ng amplitude 0–200. */
  readonly amplitude: number;
}

/** Prosody per emotion: loud and fast for anger, slow and low for sadness and boredom, and so on. */
export const PROSODY: Readonly<Record<string, Pick<Utterance, 'pitch' | 'rate' | 'amplitude'>>> = {
  neutral: { pitch: 50, rate: 160, amplitude: 100 },
  anger: { pitch: 60, rate: 200, amplitude: 180 },
  disgust: { pitch: 35, rate: 130, amplitude: 110 },
  fear: { pitch: 85, rate: 210, amplitude: 90 },
  happiness: { pitch: 75, rate: 180, amplitude: 140 },
  sadness: { pitch: 25, rate: 110, amplitude: 70 },
  boredom: { pitch: 30, rate: 120, amplitude: 80 },
};

const SENTENCES = ['The object is on the table.', 'We will meet again tomorrow morning.', 'It is going to rain later today.'];

/**
 * Writes the utterances as 16 kHz mono 16-bit PCM WAV files into `dir` (espeak-ng, then ffmpeg).
 * Fails with the reason when espeak-ng is missing: tools/setup.sh installs it.
 */
export function synthesise(dir: string, utterances: readonly Utterance[]): void {
  fs.mkdirSync(dir, { recursive: true });
  const ffmpeg = resolveFfmpeg().path;
  for (const u of utterances) {
    const raw = path.join(dir, `.${u.file}.espeak.wav`);
    const say = spawnSync('espeak-ng', ['-v', u.voice, '-p', String(u.pitch), '-s', String(u.rate), '-a', String(u.amplitude), '-w', raw, u.text], { encoding: 'utf8' });
    if (say.error || say.status !== 0) throw new Error(`espeak-ng (bash tools/setup.sh installs it): ${say.error?.message ?? say.stderr.trim()}`);
    const convert = spawnSync(ffmpeg, ['-v', 'error', '-y', '-i', raw, '-ac', '1', '-ar', '16000', '-c:a', 'pcm_s16le', path.join(dir, u.file)], { encoding: 'utf8' });
    fs.rmSync(raw, { force: true });
    if (convert.status !== 0) throw new Error(`ffmpeg: ${convert.stderr.trim()}`);
  }
}

export interface SyntheticCorpusItem extends Utterance {
  readonly speaker: string;
  readonly emotion: string;
}

/**
 * A corpus laid out as tools/train-acoustic reads EMO-DB (labels.csv with file, speaker, sex, age,
 * text, emotion; the audio in wav/): every speaker (a voice) says each of `perEmotion` sentences in
 * each of EMO-DB's seven emotions.
 */
export function syntheticEmodb(dir: string, voices: readonly string[], perEmotion = 1): SyntheticCorpusItem[] {
  const items: SyntheticCorpusItem[] = [];
  voices.forEach((voice, v) => {
    const speaker = String(10 + v);
    for (const [e, emotion] of Object.keys(PROSODY).entries()) {
      for (let k = 0; k < perEmotion; k++) {
        const text = SENTENCES[(e + k) % SENTENCES.length];
        items.push({ file: `${speaker}s${k}${emotion.slice(0, 2)}.wav`, text, voice, speaker, emotion, ...PROSODY[emotion] });
      }
    }
  });
  synthesise(path.join(dir, 'wav'), items);
  const rows = items.map((i) => `${i.file},${i.speaker},${i.voice.includes('+f') ? 'female' : 'male'},30,s${SENTENCES.indexOf(i.text)},${i.emotion}`);
  fs.writeFileSync(path.join(dir, 'labels.csv'), ['file,speaker,sex,age,text,emotion', ...rows].join('\n') + '\n');
  return items;
}
