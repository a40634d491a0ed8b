/**
 * Hostile output targets and input files, through real `cer` processes: nothing outside the asked
 * output is created or replaced, no input is read without bound or quoted, and no temporary file
 * is left behind (issue 14, items 1, 2 and 6). Each case states its exact outcome.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { CER } from '../helpers/cli';
import { ASTRONAUT_PNG, REPO_ROOT } from '../helpers/testdata';
import { loadManifestSync } from '../../src/models/manifest';
import { excerpt, printable, showPath } from '../../src/io/safe-files';

const SAMPLE_IN = path.join(REPO_ROOT, 'docs', 'samples', 'fuse-input.json');
const SAMPLE_TRUTH = path.join(REPO_ROOT, 'docs', 'samples', 'fuse-truth-basic.txt');
const TEMP = /^\.cer-\d+-\d+\.tmp$/;

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(args: string[], options: { env?: Record<string, string>; timeoutMs?: number; stdin?: 'pipe' | 'ignore' } = {}): Run {
  const started = Date.now();
  const r = spawnSync(process.execPath, [CER, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60000,
    env: { ...process.env, ...options.env },
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

/** Exit 1, nothing on stdout, exactly one `cer: ` line on stderr matching `pattern`. */
function refused(r: Run, pattern: RegExp): void {
  assert.equal(r.signal, null, `not killed: ${r.stderr}`);
  assert.equal(r.status, 1, `exit 1: ${r.stderr}`);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one line: ${JSON.stringify(r.stderr)}`);
  assert.match(lines[0], /^cer: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

function temps(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => TEMP.test(n));
}

/** A fuse input of `frames` frames and three models (~150 bytes a frame). */
function writeFuseInput(file: string, frames: number): void {
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, '{"models":["vs","vd","a"],"probs":{');
  const row = '[0.4,0.1,0.1,0.1,0.1,0.1,0.1]';
  ['vs', 'vd', 'a'].forEach((m, i) => {
    fs.writeSync(fd, `${i > 0 ? ',' : ''}"${m}":[`);
    const block = 10000;
    for (let f = 0; f < frames; f += block) {
      const n = Math.min(block, frames - f);
      fs.writeSync(fd, `${f > 0 ? ',' : ''}${new Array<string>(n).fill(row).join(',')}`);
    }
    fs.writeSync(fd, ']');
  });
  fs.writeSync(fd, '}}');
  fs.closeSync(fd);
}

/** A pid that was a process of ours and is no longer alive. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  assert.ok(r.pid !== undefined && r.pid > 0);
  return r.pid;
}

describe('hostile outputs and reads', function () {
  this.timeout(120000);
  let dir: string;
  let big: string;

  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-hostile-'));
    big = path.join(dir, 'big-input.json');
    writeFuseInput(big, 200000);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function work(name: string): string {
    const d = path.join(dir, name);
    fs.mkdirSync(d, { recursive: true });
    return d;
  }

  describe('--out targets: a regular file or a new name, checked before any work', function () {
    it('1. fuse --out /dev/null: refused, /dev/null still a character device', function () {
      const r = run(['fuse', '--in', SAMPLE_IN, '--out', '/dev/null']);
      refused(r, /^cer: \/dev\/null: is a character device, not a regular file: --out replaces only regular files/);
      assert.ok(fs.statSync('/dev/null').isCharacterDevice());
    });

    it('2. fuse --out /dev/stdout (a symlink): refused', function () {
      refused(run(['fuse', '--in', SAMPLE_IN, '--out', '/dev/stdout']), /^cer: \/dev\/stdout: is a symbolic link, not a regular file/);
    });

    it('3. fuse --out a FIFO: refused without blocking, still a FIFO', function () {
      const fifo = path.join(work('fifo-out'), 'pipe');
      if (spawnSync('mkfifo', [fifo]).status !== 0) this.skip();
      const r = run(['fuse', '--in', SAMPLE_IN, '--out', fifo], { timeoutMs: 20000 });
      refused(r, /pipe: is a FIFO \(named pipe\), not a regular file/);
      assert.ok(fs.lstatSync(fifo).isFIFO());
      assert.deepEqual(temps(path.dirname(fifo)), []);
    });

    it('4. fuse --out a symlink to a file: refused, the linked file untouched', function () {
      const d = work('symlink-out');
      const target = path.join(d, 'precious.txt');
      fs.writeFileSync(target, 'keep me\n');
      const link = path.join(d, 'out.json');
      fs.symlinkSync(target, link);
      refused(run(['fuse', '--in', SAMPLE_IN, '--out', link]), /out\.json: is a symbolic link, not a regular file/);
      assert.equal(fs.readFileSync(target, 'utf8'), 'keep me\n');
      assert.ok(fs.lstatSync(link).isSymbolicLink());
      assert.deepEqual(fs.readdirSync(d).sort(), ['out.json', 'precious.txt']);
    });

    it('5. fuse --out a dangling symlink: refused, its target not created', function () {
      const d = work('dangling-out');
      const link = path.join(d, 'out.json');
      fs.symlinkSync(path.join(d, 'created-through-link.json'), link);
      refused(run(['fuse', '--in', SAMPLE_IN, '--out', link]), /out\.json: is a symbolic link/);
      assert.equal(fs.existsSync(path.join(d, 'created-through-link.json')), false);
    });

    it('6. fuse --out a folder: a clear message, not EISDIR', function () {
      const d = work('folder-out');
      const r = run(['fuse', '--in', SAMPLE_IN, '--out', d]);
      refused(r, /folder-out: is a folder; --out takes a file name \(e\.g\. .*folder-out\/result\.json\)$/);
      assert.doesNotMatch(r.stderr, /EISDIR/);
      assert.deepEqual(fs.readdirSync(d), []);
    });

    it('7. fuse --out in a missing folder: refused, no folder made', function () {
      const target = path.join(dir, 'absent-folder', 'out.json');
      refused(run(['fuse', '--in', SAMPLE_IN, '--out', target]), /out\.json: cannot write \(no such folder .*absent-folder\)$/);
      assert.equal(fs.existsSync(path.dirname(target)), false);
    });

    it('8. fuse --out below a regular file: refused', function () {
      const file = path.join(work('below-file'), 'plain');
      fs.writeFileSync(file, 'x');
      refused(run(['fuse', '--in', SAMPLE_IN, '--out', path.join(file, 'out.json')]), /plain\/out\.json: cannot write \(a part of the path is not a folder\)$/);
      assert.equal(fs.readFileSync(file, 'utf8'), 'x');
    });

    it('9. fuse --out a Unix socket: refused, still a socket', async function () {
      const sock = path.join(work('socket-out'), 's.sock');
      const server = net.createServer();
      await new Promise<void>((resolve) => server.listen(sock, resolve));
      try {
        refused(run(['fuse', '--in', SAMPLE_IN, '--out', sock]), /s\.sock: is a socket, not a regular file/);
        assert.ok(fs.lstatSync(sock).isSocket());
      } finally {
        server.close();
      }
    });

    it('10. fuse --out an existing regular file: replaced whole, no temporary file left', function () {
      const d = work('replace-out');
      const out = path.join(d, 'out.json');
      fs.writeFileSync(out, 'old');
      const r = run(['fuse', '--in', SAMPLE_IN, '--out', out]);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(Array.isArray((JSON.parse(fs.readFileSync(out, 'utf8')) as { labels: unknown[] }).labels));
      assert.deepEqual(fs.readdirSync(d), ['out.json']);
    });

    it('11. fuse --out "": refused', function () {
      refused(run(['fuse', '--in', SAMPLE_IN, '--out', '']), /^cer: --out: no file name given$/);
    });

    it('12. eval --out /dev/null: refused before scoring', function () {
      refused(run(['eval', '--pred', SAMPLE_IN, '--truth', SAMPLE_TRUTH, '--out', '/dev/null']), /\/dev\/null: is a character device/);
      assert.ok(fs.statSync('/dev/null').isCharacterDevice());
    });

    it('13. fit-weights --out a symlink: refused before the search starts (no progress line)', function () {
      const d = work('fit-out');
      const link = path.join(d, 'fitted.json');
      fs.symlinkSync('/dev/null', link);
      const r = run(['fit-weights', '--in', SAMPLE_IN, '--truth', SAMPLE_TRUTH, '--samples', '50', '--out', link]);
      refused(r, /fitted\.json: is a symbolic link/);
      assert.doesNotMatch(r.stderr, /fit-weights: \d+ frames/);
    });

    it('14. an output name over 255 bytes: refused before work, naming the limit', function () {
      const long = path.join(work('long-out'), `${'n'.repeat(252)}.json`);
      refused(run(['fuse', '--in', SAMPLE_IN, '--out', long]), /cannot write: the name is 257 bytes, over the file system's 255; choose a shorter --out$/);
    });

    it('15. a 250-character output name (246 + .json) works: the temporary name is short', function () {
      const d = work('name-246-out');
      const out = path.join(d, `${'o'.repeat(246)}.json`);
      const r = run(['fuse', '--in', SAMPLE_IN, '--out', out]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(fs.readdirSync(d), [path.basename(out)]);
    });
  });

  describe('cer analyze: every result file checked before the models load', function () {
    it('16. <stem>.json a symlink in --out: the input refused, the link target untouched', function () {
      const d = work('analyze-symlink');
      const target = path.join(d, 'precious.txt');
      fs.writeFileSync(target, 'keep');
      fs.symlinkSync(target, path.join(d, 'astronaut.json'));
      const r = run(['analyze', ASTRONAUT_PNG, '--out', d, '--no-acoustic', '--whole-frame-face', '--quiet']);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /^cer: .*astronaut\.png: .*astronaut\.json: is a symbolic link, not a regular file: results replace only regular files; remove it or choose another output folder\n$/);
      assert.equal(fs.readFileSync(target, 'utf8'), 'keep');
      assert.deepEqual(temps(d), []);
    });

    it('17. <stem>.json a FIFO in --out: refused without blocking', function () {
      const d = work('analyze-fifo');
      if (spawnSync('mkfifo', [path.join(d, 'astronaut.json')]).status !== 0) this.skip();
      const r = run(['analyze', ASTRONAUT_PNG, '--out', d, '--no-acoustic', '--whole-frame-face', '--quiet'], { timeoutMs: 30000 });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /astronaut\.json: is a FIFO \(named pipe\), not a regular file/);
      assert.ok(fs.lstatSync(path.join(d, 'astronaut.json')).isFIFO());
    });

    it('18. a 246-character input name is analysed and written (no ENAMETOOLONG)', function () {
      const d = work('analyze-246');
      const input = path.join(d, `${'a'.repeat(242)}.png`);
      assert.equal(path.basename(input).length, 246);
      fs.copyFileSync(ASTRONAUT_PNG, input);
      const out = work('analyze-246-out');
      const r = run(['analyze', input, '--out', out, '--no-acoustic', '--whole-frame-face', '--quiet']);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(fs.readdirSync(out), [`${'a'.repeat(242)}.json`]);
    });
  });

  describe('signals and temporary files', function () {
    /** Starts a large fuse write and sends `signal` as soon as its temporary file appears. */
    async function interrupt(signal: NodeJS.Signals, name: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; sawTemp: boolean; d: string }> {
      const d = work(name);
      const child = spawn(process.execPath, [CER, 'fuse', '--in', big, '--out', path.join(d, 'out.json')], { stdio: 'ignore' });
      let sawTemp = false;
      const timer = setInterval(() => {
        if (!sawTemp && temps(d).length > 0) {
          sawTemp = true;
          child.kill(signal);
        }
      }, 1);
      const [code, sig] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
      clearInterval(timer);
      return { code, signal: sig, sawTemp, d };
    }

    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      it(`19/20. ${signal} during a large write: the process ends by ${signal}, no temporary file, no target`, async function () {
        const r = await interrupt(signal, `signal-${signal}`);
        assert.ok(r.sawTemp, 'the temporary file was seen while being written');
        assert.ok(r.signal === signal || r.code === (signal === 'SIGINT' ? 130 : 143), `ended by ${signal}: ${r.code} ${r.signal}`);
        assert.deepEqual(fs.readdirSync(r.d), [], 'no temporary file and no half-written target');
      });
    }

    it('21. SIGKILL leaves a temporary file; the next write into that folder removes it', async function () {
      const r = await interrupt('SIGKILL', 'signal-kill');
      assert.ok(r.sawTemp);
      assert.equal(r.signal, 'SIGKILL');
      assert.equal(temps(r.d).length, 1, 'SIGKILL cannot be caught');
      const again = run(['fuse', '--in', SAMPLE_IN, '--out', path.join(r.d, 'small.json')]);
      assert.equal(again.status, 0, again.stderr);
      assert.deepEqual(fs.readdirSync(r.d), ['small.json']);
    });

    it('22. stale temporary files of ours (dead owner) are swept; live owners and other files are kept', function () {
      const d = work('sweep');
      const stale = `.cer-${deadPid()}-7.tmp`;
      const live = `.cer-${process.pid}-0.tmp`;
      for (const name of [stale, live, '.cer-notapid-0.tmp', 'cer-1-1.tmp', '.other.tmp']) fs.writeFileSync(path.join(d, name), 'x');
      const r = run(['fuse', '--in', SAMPLE_IN, '--out', path.join(d, 'out.json')]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(fs.readdirSync(d).sort(), [live, '.cer-notapid-0.tmp', '.other.tmp', 'cer-1-1.tmp', 'out.json'].sort());
    });
  });

  describe('inputs: regular files below a stated size, read with a bound', function () {
    it('23. fuse --in /dev/zero: refused at once, no unbounded read', function () {
      const r = run(['fuse', '--in', '/dev/zero'], { timeoutMs: 20000 });
      refused(r, /^cer: \/dev\/zero: is a character device, expected a regular file \(copy it to a file first\)$/);
      assert.ok(r.ms < 15000, `${r.ms} ms`);
    });

    it('24. eval --pred /dev/urandom: refused at once', function () {
      refused(run(['eval', '--pred', '/dev/urandom', '--truth', SAMPLE_TRUTH], { timeoutMs: 20000 }), /\/dev\/urandom: is a character device, expected a regular file/);
    });

    it('25. fuse --in a FIFO with no writer: refused without blocking', function () {
      const fifo = path.join(work('fifo-in'), 'in.json');
      if (spawnSync('mkfifo', [fifo]).status !== 0) this.skip();
      const r = run(['fuse', '--in', fifo], { timeoutMs: 20000 });
      refused(r, /in\.json: is a FIFO \(named pipe\), expected a regular file/);
    });

    it('26. fuse --in /dev/stdin (a pipe): refused without waiting for input', function () {
      const r = run(['fuse', '--in', '/dev/stdin'], { timeoutMs: 20000, stdin: 'pipe' });
      refused(r, /\/dev\/stdin: is a (FIFO \(named pipe\)|socket), expected a regular file/);
    });

    it('27. a 10 MB fuse input over CER_MAX_INPUT_MB=1: refused quickly, the limit and the variable named', function () {
      const file = path.join(work('size'), 'ten.json');
      fs.writeFileSync(file, Buffer.alloc(10 * 1024 * 1024, 0x20));
      const r = run(['fuse', '--in', file], { env: { CER_MAX_INPUT_MB: '1' } });
      refused(r, /ten\.json: is 10 MB, over the 1 MB limit for a fuse input \(set CER_MAX_INPUT_MB to allow more\)$/);
      assert.ok(r.ms < 15000);
    });

    it('28. a 10 MB --fusion file: refused, over the 4 MB limit for a fusion file', function () {
      const file = path.join(work('size'), 'fusion.json');
      fs.writeFileSync(file, Buffer.alloc(10 * 1024 * 1024, 0x20));
      refused(run(['fuse', '--in', SAMPLE_IN, '--fusion', file]), /fusion\.json: is 10 MB, over the 4 MB limit for a fusion file/);
    });

    it('29. a bad CER_MAX_INPUT_MB: refused, quoted printably', function () {
      refused(run(['fuse', '--in', SAMPLE_IN], { env: { CER_MAX_INPUT_MB: 'lots\nmore' } }), /^cer: CER_MAX_INPUT_MB: expected a size in MB greater than 0, got "lots\\nmore"$/);
    });

    it('30. the limit applies to labels too: eval --truth over CER_MAX_INPUT_MB', function () {
      const file = path.join(work('size'), 'truth.txt');
      fs.writeFileSync(file, '0\n'.repeat(600000));
      refused(run(['eval', '--pred', SAMPLE_TRUTH, '--truth', file], { env: { CER_MAX_INPUT_MB: '1' } }), /truth\.txt: is 1\.1 MB, over the 1 MB limit for a truth labels file/);
    });

    it('31. /proc/self/environ: a pseudo-file, refused without quoting it', function () {
      const r = run(['eval', '--pred', '/proc/self/environ', '--truth', SAMPLE_TRUTH], { env: { CER_SECRET_FOR_TEST: 'hunter2-secret' } });
      refused(r, /^cer: \/proc\/self\/environ: is a pseudo-file \(size 0 on disk, yet it has content: under \/proc or \/sys\), expected a regular file/);
      assert.doesNotMatch(r.stderr, /hunter2|is empty/);
    });

    it('32. --fusion naming a secret file: "not valid JSON" without a byte of it', function () {
      const file = path.join(work('secret'), 'shadow');
      fs.writeFileSync(file, 'root:$6$SECRETHASH$abcdef:19000:0:99999:7:::\n');
      const r = run(['fuse', '--in', SAMPLE_IN, '--fusion', file]);
      refused(r, /shadow: not valid JSON \(it does not begin like JSON: is this the right file\?\)$/);
      assert.doesNotMatch(r.stderr, /SECRET|root:/);
    });

    it('33. a JSON syntax error names the line and column, not the text', function () {
      const file = path.join(work('syntax'), 'bad.json');
      fs.writeFileSync(file, '{\n  "models": ["vs" "secret-word"]\n}\n');
      const r = run(['fuse', '--in', file]);
      refused(r, /bad\.json: not valid JSON \(Expected ',' or '\]' after array element at line 2, column 19\)$/);
      assert.doesNotMatch(r.stderr, /secret-word/);
    });

    it('34. a truncated JSON input: "ends too early"', function () {
      const file = path.join(work('syntax'), 'cut.json');
      fs.writeFileSync(file, '{"models": ["vs", "vd"], "probs": {"vs": [[0.1,');
      refused(run(['fuse', '--in', file]), /cut\.json: not valid JSON \(it ends too early, at line 1, column 48\)$/);
    });

    it('35. a binary file (NUL bytes) as predictions: "not a text file"', function () {
      const file = path.join(work('binary'), 'pred.json');
      fs.writeFileSync(file, Buffer.from([0x7b, 0x00, 0x01, 0x02, 0x7d]));
      refused(run(['eval', '--pred', file, '--truth', SAMPLE_TRUTH]), /pred\.json: is not a text file \(it holds NUL bytes\), expected a predictions file$/);
    });

    it('36. a folder as --truth: "is a folder, expected a file"', function () {
      refused(run(['eval', '--pred', SAMPLE_TRUTH, '--truth', work('truth-folder')]), /truth-folder: is a folder, expected a file$/);
    });

    it('37. a path with a newline: one line, the newline escaped, the path once', function () {
      const name = path.join(dir, 'two\nlines.json');
      const r = run(['fuse', '--in', name]);
      refused(r, /two\\nlines\.json: no such file$/);
      assert.equal(r.stderr.split('two\\nlines').length, 2, 'the path once');
    });

    it('38. a 246-character input name works', function () {
      const d = work('in-246');
      const input = path.join(d, `${'i'.repeat(241)}.json`);
      assert.equal(path.basename(input).length, 246);
      fs.copyFileSync(SAMPLE_IN, input);
      const r = run(['fuse', '--in', input]);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(Array.isArray((JSON.parse(r.stdout) as { labels: unknown[] }).labels));
    });

    it('39. an input through a symlink to a regular file is read (inputs may be links)', function () {
      const link = path.join(work('in-link'), 'link.json');
      fs.symlinkSync(SAMPLE_IN, link);
      const r = run(['fuse', '--in', link]);
      assert.equal(r.status, 0, r.stderr);
    });

    it('40. an input symlink to /dev/zero: refused as the device it points to', function () {
      const link = path.join(work('in-link'), 'zero.json');
      fs.symlinkSync('/dev/zero', link);
      refused(run(['fuse', '--in', link], { timeoutMs: 20000 }), /zero\.json: is a character device, expected a regular file/);
    });
  });

  describe('model manifests go through the same reader', function () {
    it('41. a manifest that is a FIFO: refused without blocking', function () {
      const fifo = path.join(work('manifest-fifo'), 'model.json');
      if (spawnSync('mkfifo', [fifo]).status !== 0) this.skip();
      assert.throws(() => loadManifestSync(fifo), /model\.json: cannot read manifest: is a FIFO \(named pipe\), expected a regular file/);
    });

    it('42. a 5 MB manifest: refused, over the 4 MB limit for a model manifest', function () {
      const file = path.join(work('manifest-big'), 'model.json');
      fs.writeFileSync(file, Buffer.alloc(5 * 1024 * 1024, 0x20));
      assert.throws(() => loadManifestSync(file), /model\.json: cannot read manifest: is 5\.0 MB, over the 4 MB limit for a model manifest|model\.json: cannot read manifest: is 5 MB, over the 4 MB limit for a model manifest/);
    });

    it('43. a manifest that is not JSON: not quoted', function () {
      const file = path.join(work('manifest-bad'), 'model.json');
      fs.writeFileSync(file, 'PRIVATE KEY material');
      assert.throws(() => loadManifestSync(file), (err: Error) => /model\.json: not valid JSON: it does not begin like JSON/.test(err.message) && !/PRIVATE/.test(err.message));
    });
  });

  describe('quoting', function () {
    it('44. excerpt: at most ~80 printable characters of a 10⁷-character value', function () {
      const e = excerpt(`${'x'.repeat(1e7)}`);
      assert.ok(e.length < 120, e);
      assert.match(e, /^"x{79}…" \(10000000 characters\)$/);
    });

    it('45. printable / showPath: control characters, line breaks and bidi controls escaped; long paths shortened', function () {
      assert.equal(printable('a\nb\r\tc\u0000\u001b[31m\u202e'), 'a\\nb\\r\\tc\\x00\\x1b[31m\\u{202e}');
      const long = `/x/${'p'.repeat(400)}.json`;
      const shown = showPath(long);
      assert.ok(shown.length <= 200 && shown.endsWith('p.json') && shown.includes('…'));
    });
  });
});
