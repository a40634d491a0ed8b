/**
 * The output formats on real analyses: `cer analyze` runs on the bundled sample, the RAVDESS clip
 * and two videos made here from the bundled astronaut image (frames without a face; two faces),
 * then each format is written with writeOutputs and read back as another program would.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { argmax, COMPOUND_EXPRESSIONS, COMPOUND_NAMES } from '../../src/core/emotions';
import { compoundScores } from '../../src/core/rules';
import { InputError } from '../../src/io/errors';
import {
  ABAW_HEADER,
  abawLabels,
  CE_COLOURS,
  csvCell,
  csvColumns,
  NO_PREDICTION_COLOUR,
  type OutputFormat,
  type OutputFrame,
  outputStem,
  parseFormats,
  resultJson,
  timelineData,
  timelineLayout,
  TIMELINE_ROWS,
  type TimelineRow,
  writeOutputs,
} from '../../src/output';
import type { AnalyzeResult, FrameResult } from '../../src/pipeline/analyze';
import { cer } from '../helpers/cli';
import { decodeImageForTest } from '../helpers/decode';
import { parseCsv } from '../helpers/output-csv';
import { analyzeWithCli, decodeAudio, hexRgb, makeGapVideo, makeTwoFaceVideo, rms } from '../helpers/output-media';
import { RAVDESS_CLIP, SAMPLE_MP4 } from '../helpers/testdata';

interface Analysed {
  result: AnalyzeResult;
  jsonText: string;
}

const ALL: OutputFormat[] = ['json', 'csv', 'abaw', 'png'];

function area(r: FrameResult): number {
  if (r.face === null) return 0;
  const [x1, y1, x2, y2] = r.face.box;
  return (x2 - x1) * (y2 - y1);
}

/** The CSV cell of a number or null, read back. */
function cellValue(cell: string): number | null {
  return cell === '' ? null : Number(cell);
}

function checkCsv(file: string, result: AnalyzeResult): void {
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text.endsWith('\r\n'), 'lines end with CRLF');
  const rows = parseCsv(text);
  const header = rows[0];
  assert.deepEqual(header, csvColumns(result));
  const optional = result.results as readonly OutputFrame[];
  const extra = (optional.some((r) => r.speech !== undefined) ? 1 : 0) + (optional.some((r) => r.mouthOpen !== undefined) ? 1 : 0);
  assert.equal(header.length, 8 + 4 * 7 + 7 + 1 + extra);
  assert.equal(rows.length - 1, result.results.length, 'one line per result');
  const col = (name: string): number => {
    const i = header.indexOf(name);
    assert.ok(i >= 0, `column ${name}`);
    return i;
  };
  result.results.forEach((r, n) => {
    const row = rows[n + 1];
    assert.equal(row.length, header.length, `row ${n}: cell count`);
    assert.equal(cellValue(row[col('frame')]), r.frame);
    assert.equal(cellValue(row[col('t')]), r.t);
    assert.equal(cellValue(row[col('track')]), r.face ? r.face.track : null);
    ['x1', 'y1', 'x2', 'y2'].forEach((c, i) => assert.equal(cellValue(row[col(`face_${c}`)]), r.face ? r.face.box[i] : null));
    assert.equal(cellValue(row[col('face_score')]), r.face ? r.face.score : null);
    for (const v of ['vs', 'vd', 'a', 'fused'] as const) {
      const values = r[v];
      const start = col(`${v}_Neutral`);
      for (let e = 0; e < 7; e++) {
        // Exact equality: the CSV keeps every bit of the JSON's doubles.
        assert.equal(cellValue(row[start + e]), values ? values[e] : null, `row ${n} ${header[start + e]}`);
      }
    }
    const start = col('compound_Fearfully_Surprised');
    for (let k = 0; k < 7; k++) assert.equal(cellValue(row[start + k]), r.compound ? r.compound[k] : null);
    assert.equal(row[col('label')], r.label ?? '');
  });
}

function checkAbaw(file: string, result: AnalyzeResult, expected: readonly number[]): void {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  assert.equal(lines.pop(), '', 'ends with a newline');
  assert.equal(lines[0], ABAW_HEADER);
  assert.equal(lines[0], 'image_location,Fearfully_Surprised,Happily_Surprised,Sadly_Surprised,Disgustedly_Surprised,Angrily_Surprised,Sadly_Fearful,Sadly_Angry');
  assert.equal(lines.length, result.frames + 1, 'frames + 1 lines');
  const video = outputStem(result.input);
  lines.slice(1).forEach((line, f) => {
    assert.equal(line, `${video}/${String(f + 1).padStart(5, '0')}.jpg,${expected[f]}`);
  });
  // The project's own reader takes it, as prediction and as truth.
  const r = cer(['eval', '--pred', file, '--truth', file, '--task', 'compound']);
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { accuracy: number; frames: number; matchedBy: string };
  assert.equal(report.accuracy, 1);
  assert.equal(report.frames, result.frames);
  assert.equal(report.matchedBy, 'name');
}

/** Colour at (x, y) of a decoded RGB image. */
function pixel(img: { width: number; data: Uint8Array }, x: number, y: number): [number, number, number] {
  const i = (y * img.width + x) * 3;
  return [img.data[i], img.data[i + 1], img.data[i + 2]];
}

/** The CE a row should show at each result of one-result-per-frame analyses. */
function expectedRow(r: FrameResult, row: TimelineRow): number | null {
  if (row === 'AV') return r.label === null ? null : COMPOUND_NAMES.indexOf(r.label);
  const values = r[row === 'VS' ? 'vs' : row === 'VD' ? 'vd' : 'a'];
  return values ? argmax(compoundScores(values, 'none')) : null;
}

async function checkPng(file: string, result: AnalyzeResult, perFrame: readonly FrameResult[]): Promise<void> {
  const bytes = fs.readFileSync(file);
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(bytes.toString('latin1', 12, 16), 'IHDR');
  const layout = timelineLayout(result);
  assert.equal(bytes.readUInt32BE(16), layout.width);
  assert.equal(bytes.readUInt32BE(20), layout.height);
  // Decoded by ffmpeg, not by the renderer.
  const img = await decodeImageForTest(file);
  assert.equal(img.width, layout.width);
  assert.equal(img.height, layout.height);
  assert.equal(layout.frameX.length, perFrame.length);
  // The first group is `perFrame`'s; with several tracks, one group per track follows.
  const frames = perFrame.map((r) => r.frame);
  const groups = layout.groups.map((g, i) =>
    i === 0 ? perFrame : frames.map((frame) => result.results.find((r) => r.frame === frame && r.face?.track === g.track) ?? null),
  );
  let checked = 0;
  for (const [g, rowsOfGroup] of groups.entries()) {
    const present = (row: TimelineRow): boolean => rowsOfGroup.some((r) => r !== null && expectedRow(r, row) !== null);
    for (const row of TIMELINE_ROWS) {
      const { top, height } = layout.groups[g].rows[row];
      rowsOfGroup.forEach((r, f) => {
        const [x0, x1] = layout.frameX[f];
        if (x1 - x0 < 3) return;
        const x = (x0 + x1) >> 1;
        const k = r === null ? null : expectedRow(r, row);
        const frame = r?.frame ?? frames[f];
        if (!present(row)) {
          // A model that did not run: hatched grey, no CE colour (sampled above the row's text).
          const got = pixel(img, x, top + 4);
          for (const c of CE_COLOURS) assert.notDeepEqual(got, hexRgb(c), `${row} frame ${frame}`);
          assert.ok(Math.max(...got) - Math.min(...got) < 12 && got[0] > 200, `${row} frame ${frame}: grey, got ${got}`);
        } else {
          const want = hexRgb(k === null ? NO_PREDICTION_COLOUR : CE_COLOURS[k]);
          assert.deepEqual(pixel(img, x, top + (height >> 1)), want, `group ${g} ${row} frame ${frame}`);
        }
        checked++;
      });
    }
  }
  assert.ok(checked >= 4 * perFrame.length * groups.length * 0.9, `checked ${checked} pixels`);
}

function canWrite(dir: string): boolean {
  const probe = path.join(dir, '.probe');
  try {
    fs.writeFileSync(probe, 'x');
    fs.rmSync(probe);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes a folder read-only and returns how to undo it, or null when that cannot be done here.
 * chmod does not stop root, so for root the folder is made immutable (chattr +i) instead.
 */
function makeReadOnly(dir: string): (() => void) | null {
  fs.chmodSync(dir, 0o555);
  if (!canWrite(dir)) return () => fs.chmodSync(dir, 0o755);
  fs.chmodSync(dir, 0o755);
  const r = spawnSync('chattr', ['+i', dir]);
  if (r.status === 0 && !canWrite(dir)) return () => void spawnSync('chattr', ['-i', dir]);
  if (r.status === 0) spawnSync('chattr', ['-i', dir]);
  return null;
}

function listDir(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

describe('output formats on real analyses', function () {
  this.timeout(600000);
  let work: string;
  const analysed = new Map<string, Analysed>();

  before(function () {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-output-'));
    const analyses = path.join(work, 'analyses');
    fs.mkdirSync(analyses);
    analysed.set('sample', analyzeWithCli(SAMPLE_MP4, analyses));
    analysed.set('ravdess', analyzeWithCli(RAVDESS_CLIP, analyses));
    const gap = path.join(work, 'gap.mp4');
    makeGapVideo(gap);
    analysed.set('gap', analyzeWithCli(gap, analyses));
    const two = path.join(work, 'two-faces.mp4');
    makeTwoFaceVideo(two);
    analysed.set('two', analyzeWithCli(two, analyses, ['--target', 'all', '--detector', 'back-256']));
  });

  after(function () {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  function get(name: string): Analysed {
    const a = analysed.get(name);
    assert.ok(a, `${name} analysed`);
    return a;
  }

  for (const name of ['sample', 'ravdess']) {
    describe(name === 'sample' ? 'docs/samples/sample.mp4' : 'the RAVDESS clip', function () {
      it('writes all four files, named after the input, and returns their paths', function () {
        const { result } = get(name);
        const out = fs.mkdtempSync(path.join(work, 'all-'));
        const written = writeOutputs(result, out, ALL);
        const stem = outputStem(result.input);
        assert.deepEqual(written, ['json', 'csv', 'txt', 'png'].map((e) => path.join(out, `${stem}.${e}`)));
        assert.deepEqual(listDir(out), [`${stem}.csv`, `${stem}.json`, `${stem}.png`, `${stem}.txt`], 'no temporary files left');
      });

      it('JSON: the same bytes as cer analyze writes', function () {
        const { result, jsonText } = get(name);
        const out = fs.mkdtempSync(path.join(work, 'json-'));
        const [file] = writeOutputs(result, out, ['json']);
        assert.equal(fs.readFileSync(file, 'utf8'), jsonText);
        assert.equal(resultJson(result), jsonText);
      });

      it('CSV: read back, every number equals the JSON number exactly', function () {
        const { result } = get(name);
        const out = fs.mkdtempSync(path.join(work, 'csv-'));
        const [file] = writeOutputs(result, out, ['csv']);
        checkCsv(file, result);
      });

      it('ABAW: header, one line per frame with its label, accepted by cer eval', function () {
        const { result } = get(name);
        assert.ok(result.results.every((r) => r.label !== null), 'a label on every frame');
        const out = fs.mkdtempSync(path.join(work, 'abaw-'));
        const [file] = writeOutputs(result, out, ['abaw']);
        checkAbaw(file, result, result.results.map((r) => COMPOUND_NAMES.indexOf(r.label as string)));
      });

      it('PNG: a decodable picture whose rows show each frame’s CE colour', async function () {
        const { result } = get(name);
        const out = fs.mkdtempSync(path.join(work, 'png-'));
        const [file] = writeOutputs(result, out, ['png']);
        await checkPng(file, result, result.results);
        // Both have a voice, which the bundled acoustic model hears: the A row has colours (checked above).
        const a = timelineData(result).rows.A;
        assert.ok(a.some((k) => k !== null) && a.some((k) => k === null), `${name}: A on ${a.filter((k) => k !== null).length} of ${a.length} frames`);
      });
    });
  }

  describe('frames without a face (a video made here: grey, astronaut, grey)', function () {
    it('the analysis has face-less frames at both ends', function () {
      const { result } = get('gap');
      assert.equal(result.frames, 60);
      const faces = result.results.map((r) => r.face !== null);
      assert.ok(!faces[0] && !faces[5] && !faces[59], 'no face at the ends');
      assert.ok(faces[30], 'a face in the middle');
    });

    it('ABAW: such a frame repeats the previous label; frames before the first face take the first label', function () {
      const { result } = get('gap');
      const own = result.results.map((r) => (r.label === null ? -1 : COMPOUND_NAMES.indexOf(r.label)));
      const firstLabelled = own.findIndex((k) => k >= 0);
      assert.ok(firstLabelled > 0);
      const expected: number[] = [];
      let previous = own[firstLabelled];
      for (const k of own) {
        if (k >= 0) previous = k;
        expected.push(previous);
      }
      const labels = abawLabels(result);
      assert.deepEqual(labels.map((l) => l.label), expected);
      assert.deepEqual(labels.map((l) => l.filled), own.map((k) => k < 0));
      const out = fs.mkdtempSync(path.join(work, 'gap-abaw-'));
      const [file] = writeOutputs(result, out, ['abaw']);
      checkAbaw(file, result, expected);
    });

    it('a result without any label: the formats it can have are written, ABAW is refused in one line and an older ABAW file removed', function () {
      const { result } = get('gap');
      const unlabelled = { ...result, results: result.results.map((r) => ({ ...r, label: null })) };
      const out = fs.mkdtempSync(path.join(work, 'gap-unlabelled-'));
      const stem = path.join(out, path.basename(result.input, path.extname(result.input)));
      // An ABAW file of an earlier run, which the results written now would not match.
      fs.writeFileSync(`${stem}.txt`, 'an older run\n');
      assert.throws(() => writeOutputs(unlabelled, out, ALL), (err: unknown) => {
        assert.ok(err instanceof InputError);
        assert.equal(
          err.message,
          `${result.input}: no abaw output, the older ${stem}.txt removed: no frame has a compound-expression label (it has no face with a prediction); the ABAW format needs one ` +
            `(written: ${stem}.json, ${stem}.csv, ${stem}.png)`,
        );
        return true;
      });
      assert.deepEqual(fs.readdirSync(out).sort(), ['.json', '.csv', '.png'].map((e) => path.basename(stem) + e).sort());
      const written = JSON.parse(fs.readFileSync(`${stem}.json`, 'utf8')) as { results: Array<{ label: string | null }> };
      assert.equal(written.results.length, result.results.length);
      assert.ok(written.results.every((r) => r.label === null));
    });

    it('CSV: empty cells where there is no face or prediction', function () {
      const { result } = get('gap');
      const out = fs.mkdtempSync(path.join(work, 'gap-csv-'));
      const [file] = writeOutputs(result, out, ['csv']);
      checkCsv(file, result);
      const rows = parseCsv(fs.readFileSync(file, 'utf8'));
      const row0 = rows[1];
      assert.deepEqual(row0.slice(2), new Array<string>(row0.length - 2).fill(''), 'frame 0: only frame and t');
    });

    it('PNG: face-less frames are grey in every row, the others coloured', async function () {
      const { result } = get('gap');
      const out = fs.mkdtempSync(path.join(work, 'gap-png-'));
      const [file] = writeOutputs(result, out, ['png']);
      await checkPng(file, result, result.results);
    });
  });

  describe('two faces with target all', function () {
    it('the analysis has two tracks on every frame', function () {
      const { result } = get('two');
      assert.equal(result.target, 'all');
      assert.equal(result.results.length, 2 * result.frames);
      assert.deepEqual([...new Set(result.results.map((r) => r.face?.track))].sort(), [1, 2]);
    });

    it('CSV: one line per face and frame', function () {
      const { result } = get('two');
      const out = fs.mkdtempSync(path.join(work, 'two-csv-'));
      const [file] = writeOutputs(result, out, ['csv']);
      checkCsv(file, result);
    });

    it('ABAW and PNG: one line per frame, for the largest face; or for a named track', async function () {
      const { result } = get('two');
      const largest: FrameResult[] = [];
      for (let f = 0; f < result.frames; f++) {
        const rows = result.results.filter((r) => r.frame === f);
        largest.push(rows.reduce((a, b) => (area(b) > area(a) ? b : a)));
      }
      assert.ok(largest.every((r) => r.face !== null && r.face.box[0] < 300), 'the full-size astronaut on the left is the largest face');
      const out = fs.mkdtempSync(path.join(work, 'two-'));
      const [abaw, png] = writeOutputs(result, out, ['abaw', 'png']);
      checkAbaw(abaw, result, largest.map((r) => COMPOUND_NAMES.indexOf(r.label as string)));
      await checkPng(png, result, largest);
      // One group of rows for the largest face of each frame, then one per track.
      assert.deepEqual(timelineLayout(result).groups.map((g) => g.track), [null, 1, 2]);

      const small = largest[0].face?.track === 1 ? 2 : 1;
      const other = result.results.filter((r) => r.face?.track === small);
      const byTrack = abawLabels(result, { track: small });
      assert.deepEqual(byTrack.map((l) => l.label), other.map((r) => COMPOUND_NAMES.indexOf(r.label as string)));
    });
  });

  describe('the optional per-frame fields speech and mouthOpen', function () {
    it('CSV: speech and mouth_open columns when the results have them, numbers or empty', function () {
      const { result } = get('sample');
      // Speech per frame from the sample's own audio (its loudness in the frame's 40 ms), and a
      // mouth opening on every other frame: fields a newer pipeline fills.
      const rate = 16000;
      const audio = decodeAudio(SAMPLE_MP4, rate);
      const results = result.results.map((r, i) => ({
        ...r,
        speech: Math.min(1, rms(audio, rate, r.t, r.t + 0.04) * 10),
        mouthOpen: i % 2 === 0 ? i / 1000 : null,
      }));
      const withFields: AnalyzeResult = { ...result, results };
      const out = fs.mkdtempSync(path.join(work, 'speech-'));
      const [file] = writeOutputs(withFields, out, ['csv']);
      const rows = parseCsv(fs.readFileSync(file, 'utf8'));
      assert.deepEqual(rows[0].slice(-3), ['label', 'speech', 'mouth_open']);
      results.forEach((r, n) => {
        assert.equal(cellValue(rows[n + 1][rows[0].length - 2]), r.speech);
        assert.equal(cellValue(rows[n + 1][rows[0].length - 1]), r.mouthOpen);
      });
      assert.ok(results.some((r) => r.speech > 0.05) && results.some((r) => r.speech === 0), 'speech and silence');
      checkCsv(file, withFields);
    });
  });

  describe('writing fails cleanly', function () {
    it('a target it cannot replace (a folder named like the PNG): no file at all is left', function () {
      const { result } = get('sample');
      const out = fs.mkdtempSync(path.join(work, 'fail-'));
      const stem = outputStem(result.input);
      fs.mkdirSync(path.join(out, `${stem}.png`));
      assert.throws(() => writeOutputs(result, out, ALL), (err: Error) => err instanceof InputError && err.message.includes(`${stem}.png`));
      assert.deepEqual(listDir(out), [`${stem}.png`], 'json, csv, txt and temporary files all removed');
      assert.ok(fs.statSync(path.join(out, `${stem}.png`)).isDirectory());
    });

    it('a read-only output folder: an error, nothing written', function () {
      const { result } = get('sample');
      const out = fs.mkdtempSync(path.join(work, 'readonly-'));
      const restore = makeReadOnly(out);
      if (restore === null) {
        console.warn('    skipped: cannot make a folder read-only for this user (root without chattr)');
        this.skip();
      }
      try {
        assert.throws(() => writeOutputs(result, out, ALL), (err: Error) => err instanceof InputError && err.message.includes('cannot write'));
        assert.deepEqual(listDir(out), []);
      } finally {
        restore();
      }
    });

    it('a format that cannot be made (bad PNG scale): nothing written, not even the others', function () {
      const { result } = get('sample');
      const out = fs.mkdtempSync(path.join(work, 'render-'));
      assert.throws(() => writeOutputs(result, out, ALL, { timeline: { scale: 100 } }), /scale/);
      assert.deepEqual(listDir(out), []);
    });

    it('a missing output folder or an unknown format: an error', function () {
      const { result } = get('sample');
      assert.throws(() => writeOutputs(result, path.join(work, 'absent'), ['json']), InputError);
      assert.ok(!fs.existsSync(path.join(work, 'absent')));
      assert.throws(() => parseFormats('json,xml'), /unknown format "xml"/);
      assert.deepEqual(parseFormats('png, json,png'), ['png', 'json']);
    });
  });

  describe('CSV cells', function () {
    it('quotes only cells with commas, quotes or line breaks, and reads back', function () {
      const values = ['Happily Surprised', 'a,b', 'say "hi"', 'two\r\nlines', ''];
      const line = values.map(csvCell).join(',') + '\r\n';
      assert.equal(line, 'Happily Surprised,"a,b","say ""hi""","two\r\nlines",\r\n');
      assert.deepEqual(parseCsv(line), [values]);
      assert.equal(csvCell(null), '');
      assert.equal(csvCell(Number.NaN), '');
      assert.equal(csvCell(0.1 + 0.2), '0.30000000000000004');
      assert.equal(Number(csvCell(1e-7)), 1e-7);
    });

    it('columns follow the canonical orders', function () {
      const { result } = get('sample');
      const columns = csvColumns(result);
      assert.deepEqual(columns.slice(0, 9), ['frame', 't', 'track', 'face_x1', 'face_y1', 'face_x2', 'face_y2', 'face_score', 'vs_Neutral']);
      assert.deepEqual(
        columns.slice(36, 43),
        COMPOUND_EXPRESSIONS.map((c) => `compound_${c.abawName}`),
      );
      // The sample has audio and a face: the voice-activity and mouth-open columns follow the label.
      assert.deepEqual(columns.slice(43), ['label', 'speech', 'mouth_open']);
    });
  });
});
