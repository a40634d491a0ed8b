/**
 * `cer models …`: list the installed models with their task, source, licence and checksum status;
 * verify checksums; install models from a folder or a URL; export the paper's models from PyTorch
 * checkpoints with tools/export (Python, Debian's python3-torch). What each does is in src/models/
 * (inventory.ts, install.ts, export.ts); this file parses the command line and prints.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../io/errors';
import { exportModel, type ExportOptions } from '../../models/export';
import { installModels, type InstallOptions } from '../../models/install';
import { inspectModels, verifyModels, type ChecksumStatus, type ModelsReport } from '../../models/inventory';
import { DEFAULT_MODELS_DIR, displayPath } from '../../models/manifest';

// ---------------------------------------------------------------------------------------------
// Listing and verifying

const STATUS_TEXT: Readonly<Record<ChecksumStatus, string>> = {
  ok: 'checksum ok',
  mismatch: 'CHECKSUM MISMATCH',
  missing: 'MODEL FILE MISSING',
  unreadable: 'MODEL FILE UNREADABLE',
};

/** The report as text people read: one block per model, licence first-class. */
export function formatModels(report: ModelsReport): string {
  const lines: string[] = [`models in ${report.dir}:`];
  if (report.models.length === 0 && report.invalid.length === 0) lines.push('  (none)');
  const idWidth = Math.max(0, ...report.models.map((m) => m.id.length));
  const taskWidth = Math.max(0, ...report.models.map((m) => m.task.length));
  for (const m of report.models) {
    lines.push(`${m.id.padEnd(idWidth)}  ${m.task.padEnd(taskWidth)}  ${STATUS_TEXT[m.checksum]}${m.nonCommercial ? '  NON-COMMERCIAL' : ''}`);
    lines.push(`  licence: ${m.licence}${m.nonCommercial ? ' (non-commercial use only)' : ''}`);
    lines.push(`  source:  ${m.source}`);
    if (m.checksum === 'mismatch') lines.push(`  sha256:  expected ${m.sha256}, file has ${m.actualSha256 ?? '?'}`);
    if (m.checksum === 'missing') lines.push(`  file:    ${m.file} not found`);
  }
  for (const bad of report.invalid) lines.push(`INVALID ${bad.manifest}: ${bad.error}`);
  return `${lines.join('\n')}\n`;
}

export interface ListOptions {
  readonly dir?: string;
  readonly json?: boolean;
}

export async function runModelsList(options: ListOptions): Promise<void> {
  const report = await inspectModels(path.resolve(options.dir ?? DEFAULT_MODELS_DIR));
  process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatModels(report));
}

/** Checks every model (or those named); throws an InputError when any fails. */
export async function runModelsVerify(ids: readonly string[], options: ListOptions): Promise<void> {
  const { dir, models, invalid, failed } = await verifyModels(path.resolve(options.dir ?? DEFAULT_MODELS_DIR), ids);
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ dir, models, invalid }, null, 2)}\n`);
  } else {
    for (const m of models) process.stdout.write(`${m.checksum === 'ok' ? 'ok  ' : 'FAIL'}  ${m.id}  ${m.checksum === 'ok' ? m.sha256 : STATUS_TEXT[m.checksum]}\n`);
    for (const bad of invalid) process.stdout.write(`FAIL  ${bad.manifest}: ${bad.error}\n`);
  }
  if (failed > 0) throw new InputError(`${failed} of ${models.length + invalid.length} model(s) failed verification in ${dir}`);
}

// ---------------------------------------------------------------------------------------------
// Installing

export async function runModelsInstall(source: string, options: InstallOptions): Promise<void> {
  const installed = await installModels(source, options);
  for (const m of installed) {
    if (m.recognised !== undefined) {
      process.stdout.write(`recognised ${displayPath(source)} as ${m.recognised.family} (graph: ${m.recognised.signature})\n`);
      for (const note of m.recognised.notes) process.stdout.write(`  note: ${note}\n`);
    }
    process.stdout.write(`installed ${m.id}: ${m.file} (checksum ok)\n`);
    if (m.recognised !== undefined) process.stdout.write(`  manifest written: ${m.manifest}\n`);
    if (m.nonCommercial) process.stdout.write(`  note: non-commercial use only (${m.licence})\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// Exporting with tools/export (Python)

export async function runModelsExport(kind: string, options: ExportOptions): Promise<void> {
  const summary = await exportModel(kind, options);
  for (const m of summary.models) {
    process.stdout.write(`exported ${m.id}: ${displayPath(m.model)} (${(m.bytes / 1e6).toFixed(1)} MB, sha256 ${m.sha256}) and ${displayPath(m.manifest)}\n`);
    if (m.nonCommercial) process.stdout.write('  note: non-commercial use only (see the licence in the manifest)\n');
    if (m.int8 !== undefined) process.stdout.write(`  int8 copy ${m.int8}\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// Commands

export function registerModelsCommand(program: Command): void {
  const models = program.command('models').description('list, verify, install and export models (ONNX files with manifests)');
  const dirHelp = 'the models folder (default: the bundled models/)';

  models
    .command('list')
    .description('installed models with task, licence, source and checksum status')
    .option('--dir <dir>', dirHelp)
    .option('--json', 'machine-readable output')
    .action((options: ListOptions) => runModelsList(options));

  models
    .command('verify')
    .description('check every model file (or those named) against its manifest\'s SHA-256; exit 1 on any failure')
    .argument('[id...]', 'model ids (default: all)')
    .option('--dir <dir>', dirHelp)
    .option('--json', 'machine-readable output')
    .action((ids: string[], options: ListOptions) => runModelsVerify(ids, options));

  models
    .command('install')
    .description(
      'copy models (manifest + ONNX file) from a folder, a manifest file, a manifest URL or an ONNX file into the models folder, verifying checksums; ' +
        'an ONNX file without a manifest beside it is recognised by its graph (HSEmotion, OpenCV Zoo FER, FER+, the paper\'s ResNet-50) and its manifest written',
    )
    .argument('<source>', 'folder of manifests, a manifest .json, an .onnx file (its manifest beside it, or none), or an http(s) URL of a manifest (its model file is fetched beside it)')
    .option('--sha256 <hex>', 'expected SHA-256 of the model file (must also match the manifest)')
    .option('--dir <dir>', dirHelp)
    .option('--force', 'replace a model that is already installed')
    .option('--id <id>', 'an ONNX file without a manifest: the id of the manifest written (default: the recognised model\'s)')
    .addHelpText(
      'after',
      '\nExample:\n  cer models install ./exported/\n  cer models install enet_b2_8.onnx --dir my-models/\n' +
        '  cer models install enet_b0_8_best_afew.onnx --id vs-enet-b0-8-best-afew --dir my-models/\n' +
        '  cer models install https://example.org/models/vs-resnet50-affectnet.json --sha256 <hex>\n' +
        'Models it recognises and how to write a manifest for any other: docs/models.md',
    )
    .action((source: string, options: InstallOptions) => runModelsInstall(source, options));

  models
    .command('export')
    .description("export the paper's models (vs: ResNet-50, vd: LSTM, a: wav2vec2) from the authors' PyTorch checkpoints to ONNX with manifests (needs python3-torch)")
    .argument('<model>', 'vs, vd or a')
    .option('--out <dir>', 'where to write <id>.onnx and <id>.json (default: the bundled models/)')
    .option('--weights <file>', "the authors' checkpoint: FER_static_ResNet50_AffectNet.pt, FER_dinamic_LSTM_Aff-Wild2.pt or epoch_63.pth")
    .option('--backbone <file>', "a: the PDEM backbone's weights (wav2vec2-large-robust-12-ft-emotion-msp-dim pytorch_model.bin or model.safetensors)")
    .option('--random-weights', 'random weights, for tests and benchmarks')
    .option('--seed <n>', 'seed for --random-weights')
    .option('--layers <n>', 'a: transformer layers of the backbone (default 12)')
    .option('--classes <n>', 'a: 8 (with Other, default) or 7')
    .option('--id <id>', 'manifest id (default from the model and weights)')
    .option('--quantize <kind>', 'also write int8 copies: int8, dynamic (<id>-int8); int8-static (vs, a), convolutions with ranges calibrated on the bundled examples (<id>-int8s; for a also <id>-int8); none (default)')
    .option('--quantize-conv', 'with --quantize int8: quantise convolutions too')
    .option('--trust-pickle', 'load .pt/.pth checkpoints with full unpickling (only files you trust)')
    .option('--python <path>', 'the Python 3 with torch (default $CER_PYTHON or /usr/bin/python3)')
    .addHelpText(
      'after',
      '\nExample:\n  cer models export vs --weights FER_static_ResNet50_AffectNet.pt --out my-models/\n' +
        '  cer models export a --weights epoch_63.pth --backbone pytorch_model.bin --quantize int8 --out my-models/',
    )
    .action((kind: string, options: ExportOptions) => runModelsExport(kind, options));
}
