#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { oneLine } from '../io/errors';
import { runAnalyze } from './commands/analyze';
import { runEval } from './commands/eval';
import { runFitWeights } from './commands/fit-weights';
import { runFuse } from './commands/fuse';
import { registerModelsCommand } from './commands/models';
import { registerQueueCommands } from './commands/queue';
import { DEFAULT_DETECTOR, DEFAULT_FORMATS, DEFAULT_MIN_TARGET_SCORE, DEFAULT_PROVIDERS, DEFAULT_TARGET_POLICY, MOUTH_CUE_RATE } from '../defaults';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require('../../../package.json') as { version: string };

function fail(message: string, code = 1): never {
  process.stderr.write(`cer: ${message}\n`);
  process.exit(code);
}

export function buildProgram(): Command {
  const program = new Command('cer')
    .description(
      'Zero-shot compound expression recognition (Ryumina et al., CVPRW 2024): fuse per-model emotion ' +
        'probabilities, apply the decision rules, evaluate, and fit fusion weights.',
    )
    .version(version)
    .configureOutput({ outputError: (text, write) => write(`cer: ${text.replace(/^error: /, '')}`) })
    .exitOverride();

  program
    .command('analyze')
    .description('analyse videos or images: faces, VS, VD, fusion and rules on every frame')
    .argument('<input...>', 'video, audio or image files, or folders of them (their media files, in name order; live streams and devices with --allow-live)')
    .option('--out <dir>', 'folder for the results, one file per input named after it', '.')
    .option('--format <formats>', 'output formats, comma-separated: json, csv, abaw (the challenge text file), png (a timeline)', DEFAULT_FORMATS.join(','))
    .option('--fusion <preset|file>', 'paper-av8 (default with an acoustic model), paper-v (default without: --no-acoustic), paper-av7, or a JSON fusion object (e.g. from fit-weights)')
    .option('--rule <rule>', 'none (default), rule1, rule2, rule1+rule2 (Rule 1\'s mask, then Rule 2\'s weights)')
    .option('--timeline-weighted', "png: each model's row as the reference plots it, the rule on P_m·w_m·v_m (its weights in the fusion), not on P_m alone")
    .option('--no-acoustic', 'no acoustic model (A is null; the default fusion is then paper-v)')
    .option(
      '--models <default|list>',
      'the bundled models, or model folders and manifest files, comma-separated, earlier ones first; a folder may hold one model per task (name the manifest where it holds several); tasks they lack come from the bundled ones',
      'default',
    )
    .option('--target <policy>', 'whose face: largest (default), longest-seen, all (every track gets its own results)', DEFAULT_TARGET_POLICY)
    .option('--min-target-score <score>', `largest and longest-seen: a face the detector scores below this (0 to 1, default ${DEFAULT_MIN_TARGET_SCORE}) never becomes the target`)
    .option('--detector <choice>', 'auto (default: front-128 for near faces, back-256 and full-192 on tiles to find small and distant ones), or one BlazeFace variant alone: front-128, back-256, full-192', DEFAULT_DETECTOR)
    .option('--whole-frame-face', 'skip face detection: the whole image is the face (pre-cropped face images)')
    .option('--reference-compat', "reproduce the reference's quirks (integer fps, repeated outputs on frames without a face)")
    .option('--provider <list>', 'onnxruntime execution providers to try in order, e.g. cuda,cpu', DEFAULT_PROVIDERS.join(','))
    .option('--threads <n>', 'onnxruntime threads per model (default 1; 0: one per core)')
    .option('--no-vad', 'no voice activity (speech is null; A is not gated)')
    .option('--no-mouth-cue', 'no mouth-open cue (mouthOpen is null)')
    .option('--mouth-every <n>', `measure the mouth-open cue every nth frame and hold it in between (default: ${MOUTH_CUE_RATE} times a second)`)
    .option('--vs-batch <n>', 'VS crops per model call (default 1; 8 runs the paper\'s ResNet-50 a little faster; the model must take a dynamic batch)')
    .option('--vs-align', 'turn each face upright by its eye line before VS (off by default: see README, npm run bench:accuracy)')
    .option('--vs-flip', 'VS on the face and on its mirror image, probabilities averaged (twice the VS cost; off by default)')
    .option('--vs-margin <fraction>', "VS crop margin, a fraction of the face box on each side, 0 to 0.25 (default: the model manifest's extra.crop.margin, 0.1 for the bundled model)")
    .option('--allow-live', 'accept rtsp://, http(s):// streams and /dev/video* devices')
    .option('--skip-existing', 'leave out inputs whose results (every --format) are in --out already: a stopped batch goes on where it was')
    .option('--quiet', 'no progress or summary on stderr')
    .addHelpText(
      'after',
      '\nExample:\n  cer analyze clip.mp4 --out results/\n  cer analyze videos/ --out results/ --format json,csv\n  cer analyze faces/*.jpg --whole-frame-face --rule rule1',
    )
    .action(runAnalyze);

  program
    .command('fuse')
    .description('fuse VS/VD/A probabilities frame by frame and predict compound expressions')
    .requiredOption('--in <file>', 'input JSON: { models, probs, fusion?, rule? }')
    .option('--out <file>', 'write the result here instead of stdout')
    .option('--fusion <preset|file>', 'override the input\'s fusion: paper-v, paper-av7, paper-av8, or a JSON fusion object (e.g. from fit-weights)')
    .option('--rule <rule>', 'override the input\'s rule: none, rule1, rule2, rule1+rule2')
    .addHelpText(
      'after',
      '\nExample:\n  cer fuse --in docs/samples/fuse-input.json\n  cer fuse --in docs/samples/fuse-input.json --fusion paper-av7 --rule rule2 --out fused.json',
    )
    .action(runFuse);

  program
    .command('eval')
    .description('score per-frame (or, with --per-file, per-file) predictions against the truth: macro F1, UAR, accuracy, per class, confusion matrix')
    .requiredOption('--pred <paths...>', 'predictions: cer fuse output, ABAW text file, or { labels, frames? } JSON; with --per-file, cer analyze JSON results or folders of them')
    .requiredOption('--truth <file>', 'truth labels in the same formats (-1 = unlabelled); with --per-file a CSV "file,label"')
    .option('--task <task>', 'basic (7 emotions) or compound (7 compound expressions)', 'basic')
    .option('--per-file', "score each input's summary (summary.emotion, or summary.label for compound) against a per-file truth CSV")
    .option('--intersection', 'with --per-file: score only the files both labelled and predicted (else a file on one side only is an error)')
    .option('--out <file>', 'write the report here instead of stdout')
    .addHelpText(
      'after',
      '\nExamples:\n  cer eval --pred fused.json --truth docs/samples/fuse-truth-compound.txt --task compound\n  cer eval --per-file --pred results/ --truth labels.csv --task basic',
    )
    .action(runEval);

  program
    .command('fit-weights')
    .description('search fusion weights on labelled frames: Dirichlet random search for W, grid for v')
    .requiredOption('--in <file>', 'input JSON with models and probs, as for cer fuse')
    .requiredOption('--truth <file>', 'truth labels, one per input frame (or matched by frame name)')
    .option('--strategy <strategy>', 'dirichlet (W) or hierarchical (W, then v on the reference\'s grid: 0.01…0.495 step 0.005 for 2 models, 0.01…0.46 step 0.05 for 3)', 'dirichlet')
    .option('--samples <n>', 'Dirichlet samples', '10000')
    .option('--seed <s>', 'random seed (integer 1 … 4294967295)', '1')
    .option('--metric <metric>', 'f1-1to6 (macro F1 without Neutral), uar-1to6 (mean recall without Neutral, the reference\'s), f1, uar; default f1-1to6 for basic (uar-1to6 with --reference-compat), f1 for compound')
    .option('--objective <metric>', 'the same as --metric')
    .option('--reference-compat', 'the reference\'s search: --objective uar-1to6 unless told otherwise (basic task)')
    .option('--task <task>', 'basic or compound: which labels the truth holds', 'basic')
    .option('--rule <rule>', 'compound task: rule applied before the argmax (none, rule1, rule2, rule1+rule2)')
    .option('--out <file>', 'write the fusion object here instead of stdout')
    .option('--quiet', 'no progress on stderr')
    .addHelpText(
      'after',
      '\nThe result is a fusion object that cer fuse takes as is:\n' +
        '  cer fit-weights --in docs/samples/fuse-input.json --truth docs/samples/fuse-truth-basic.txt --samples 2000 --out fitted.json\n' +
        '  cer fuse --in docs/samples/fuse-input.json --fusion fitted.json',
    )
    .action(runFitWeights);

  registerModelsCommand(program);
  registerQueueCommands(program);

  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander.
      process.exit(err.exitCode === 0 ? 0 : 2);
    }
    if (process.env.CER_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    fail(oneLine(err));
  }
}

if (require.main === module) void main(process.argv);
