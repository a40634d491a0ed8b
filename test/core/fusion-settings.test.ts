import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  defaultFusion,
  FUSION_PRESETS,
  FusionConfigError,
  fusionFromMessage,
  fusionFromOption,
  fusionFromSettings,
  modelsOfFusion,
  parseFusionSpec,
  parseRule,
  presetFusion,
  resolveFusionAt,
  RULES,
} from '../../src/core';

const isConfigError = (pattern: RegExp) => (err: unknown) => err instanceof FusionConfigError && pattern.test(err.message);

describe('fusion settings', () => {
  it('the default fusion: the paper preset for its models, else the average', () => {
    assert.deepEqual(defaultFusion(['vs', 'vd', 'a']), { strategy: 'dirichlet', preset: 'paper-av8' });
    assert.deepEqual(defaultFusion(['vs', 'vd']), { strategy: 'dirichlet', preset: 'paper-v' });
    assert.deepEqual(defaultFusion(['vd', 'vs']), { strategy: 'average' });
    assert.deepEqual(defaultFusion(['vs']), { strategy: 'average' });
  });

  it('a preset by name is its dirichlet fusion; another name is none', () => {
    assert.deepEqual(presetFusion('paper-av7'), { strategy: 'dirichlet', preset: 'paper-av7' });
    assert.equal(presetFusion('paper-x'), undefined);
  });

  it('the models a setting covers: a preset’s, 2 or 3 rows of weights, else the fallback', () => {
    assert.deepEqual(modelsOfFusion({ strategy: 'hierarchical', preset: 'paper-av7' }, ['vs']), ['vs', 'vd', 'a']);
    assert.deepEqual(modelsOfFusion({ strategy: 'dirichlet', preset: 'paper-v' }, ['vs']), ['vs', 'vd']);
    const row = [1, 1, 1, 1, 1, 1, 1];
    assert.deepEqual(modelsOfFusion({ strategy: 'dirichlet', weights: [row, row, row] }, ['vs', 'vd']), ['vs', 'vd', 'a']);
    assert.deepEqual(modelsOfFusion({ strategy: 'dirichlet', weights: [row, row] }, ['vs', 'vd', 'a']), ['vs', 'vd']);
    assert.deepEqual(modelsOfFusion({ strategy: 'average' }, ['vs', 'vd', 'a']), ['vs', 'vd', 'a']);
  });

  it('the editor settings: a preset gives its models; own weights are parsed from JSON; unknown models and bad JSON are named', () => {
    const base = { strategy: 'hierarchical' as const, preset: '' as const, models: 'vs, vd', weights: '', modelWeights: '' };
    assert.deepEqual(fusionFromSettings({ ...base, preset: 'paper-av8' }), { spec: { strategy: 'hierarchical', preset: 'paper-av8' }, models: ['vs', 'vd', 'a'] });
    const W = FUSION_PRESETS['paper-v'].weights.map((r) => [...r]);
    assert.deepEqual(fusionFromSettings({ ...base, weights: JSON.stringify(W), modelWeights: '[0.5, 0.5]' }), {
      spec: { strategy: 'hierarchical', weights: W, modelWeights: [0.5, 0.5] },
      models: ['vs', 'vd'],
    });
    assert.throws(() => fusionFromSettings({ ...base, models: 'vs,xx' }), isConfigError(/^unknown model "xx" \(expected vs, vd, a\)$/));
    assert.throws(() => fusionFromSettings({ ...base, weights: '[[1,' }), isConfigError(/^weights is not valid JSON: /));
  });

  it('msg.fusion: an object whose strategy defaults to dirichlet; a fit-weights payload’s type is dropped', () => {
    assert.deepEqual(fusionFromMessage({ preset: 'paper-v' }, 'msg.fusion'), { strategy: 'dirichlet', preset: 'paper-v' });
    assert.deepEqual(fusionFromMessage({ type: 'fusion', strategy: 'average' }, 'msg.payload'), { strategy: 'average' });
    assert.throws(() => fusionFromMessage([1], 'msg.fusion'), isConfigError(/^msg\.fusion: expected an object: \{ strategy, preset\?, weights\?, modelWeights\? \}$/));
    assert.throws(() => fusionFromMessage({ weights: [[1, 2]] }, 'msg.fusion'), isConfigError(/^msg\.fusion\.weights\[0\]: expected 7 numbers, got an array of 2$/));
  });

  it('--fusion: a preset, or a file read through the given reader; a word that is neither is named', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-fusion-settings-'));
    try {
      const file = path.join(dir, 'fitted.json');
      fs.writeFileSync(file, JSON.stringify({ strategy: 'hierarchical', preset: 'paper-v', modelWeights: [0.2, 0.1], search: { score: 1 } }));
      const read = (f: string): unknown => JSON.parse(fs.readFileSync(f, 'utf8'));
      assert.deepEqual(fusionFromOption('paper-v', read, fs.existsSync), { strategy: 'dirichlet', preset: 'paper-v' });
      assert.deepEqual(fusionFromOption(file, read, fs.existsSync), { strategy: 'hierarchical', preset: 'paper-v', modelWeights: [0.2, 0.1] });
      assert.throws(() => fusionFromOption('paperv', read, fs.existsSync), isConfigError(/^--fusion: "paperv" is neither a preset \(paper-v, paper-av7, paper-av8\) nor a file$/));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses a rule from the RULES list and refuses others in one line', () => {
    for (const rule of RULES) assert.equal(parseRule(rule, '--rule'), rule);
    assert.throws(() => parseRule('rule9', '--rule'), isConfigError(new RegExp(`^--rule: expected one of ${RULES.join(', ').replace(/\+/g, '\\+')}, got "rule9"$`)));
  });

  it('resolving names where the setting came from; parsing names the field', () => {
    assert.throws(() => resolveFusionAt({ strategy: 'dirichlet', preset: 'paper-v' }, ['vs', 'vd', 'a'], '--fusion x.json'), isConfigError(/^--fusion x\.json: preset paper-v needs the models \[vs, vd\]/));
    assert.throws(() => parseFusionSpec({ strategy: 'dirichlet', modelWeights: [0.1, -1] }, 'f.json: fusion'), isConfigError(/^f\.json: fusion\.modelWeights\[1\]: expected a finite number ≥ 0, got -1$/));
  });
});
