/**
 * The editor rows the nodes share (name, model config, checkboxes) live once in nodes/common/editor/;
 * the build's asset step expands each node's markers into its editor file in dist. What Node-RED
 * serves must be whole: every row in place with its ids and texts, no marker left.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lookup } from '../../nodes/common/i18n';
import { expandEditorSnippets, packageNodes, snippetReader } from '../../tools/copy-node-assets';
import { REPO_ROOT } from '../helpers/testdata';

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A shared row of a node's editor: what it is, and the pattern of its markup in node `n`'s file. */
interface Row {
  readonly what: string;
  pattern(n: string): RegExp;
}

const name = (input = 'node-input'): Row => ({
  what: 'name',
  pattern: (n) => new RegExp(`<label for="${input}-name"><i class="fa fa-tag"></i> <span data-i18n="${escape(n)}\\.label\\.name"></span></label>\\s*<input type="text" id="${input}-name" data-i18n="\\[placeholder\\]${escape(n)}\\.label\\.name">\\s*</div>`),
});
const model: Row = {
  what: 'model config',
  pattern: (n) => new RegExp(`<label for="node-input-model"><i class="fa fa-cube"></i> <span data-i18n="${escape(n)}\\.label\\.model"></span></label>\\s*<input type="text" id="node-input-model">\\s*</div>\\s*<div class="form-tips" data-i18n="${escape(n)}\\.tip\\.model" style="margin-bottom: 12px"></div>`),
};
const checkbox = (field: string): Row => ({
  what: field,
  pattern: (n) => new RegExp(`<label>&nbsp;</label>\\s*<input type="checkbox" id="node-input-${field}" style="width:auto; margin:0 6px 0 0"><label for="node-input-${field}" style="width:auto" data-i18n="${escape(n)}\\.label\\.${field}"></label>\\s*</div>`),
});
const text = (field: string, icon: string): Row => ({
  what: field,
  pattern: (n) => new RegExp(`<label for="node-input-${field}"><i class="fa fa-${icon}"></i> <span data-i18n="${escape(n)}\\.label\\.${field}"></span></label>\\s*<input type="text" id="node-input-${field}" data-i18n="\\[placeholder\\]${escape(n)}\\.placeholder\\.${field}">\\s*</div>`),
});
const select = (field: string, icon: string, values: readonly string[]): Row => ({
  what: field,
  pattern: (n) =>
    new RegExp(
      `<label for="node-input-${field}"><i class="fa fa-${icon}"></i> <span data-i18n="${escape(n)}\\.label\\.${field}"></span></label>\\s*<select id="node-input-${field}">\\s*` +
        values.map((v) => `<option value="${escape(v)}" data-i18n="${escape(n)}\\.${field}\\.${escape(v)}"></option>\\s*`).join('') +
        '</select>\\s*</div>',
    ),
});

/** The shared rows of each node's editor, in the order its dialog shows them. */
const ROWS: Record<string, Row[]> = {
  'cer-models': [name('node-config-input')],
  'cer-media': [name(), checkbox('allowLive'), checkbox('loop'), checkbox('realtime'), checkbox('audio')],
  'cer-faces': [name(), model, select('detector', 'search', ['auto', 'front-128', 'back-256', 'full-192']), select('target', 'user', ['largest', 'longest-seen', 'all']), checkbox('referenceCompat'), checkbox('wholeFrameFace')],
  'cer-vs': [name(), model, checkbox('referenceCompat'), checkbox('align'), checkbox('flip')],
  'cer-vd': [name(), model, checkbox('referenceCompat')],
  'cer-acoustic': [name(), model, checkbox('useModel'), checkbox('gate'), checkbox('referenceCompat')],
  'cer-fusion': [name(), select('strategy', 'compress', ['dirichlet', 'hierarchical', 'average'])],
  'cer-rules': [name(), select('rule', 'gavel', ['none', 'rule1', 'rule2', 'rule1+rule2'])],
  'cer-fit-weights': [name()],
  'cer-queue': [name(), text('redis', 'database'), text('queue', 'list'), text('out', 'folder-open'), text('format', 'file'), select('events', 'bell', ['mine', 'all'])],
};

const distHtml = (node: string): string => fs.readFileSync(path.join(REPO_ROOT, 'dist', 'nodes', node, `${node}.html`), 'utf8');
const sourceHtml = (node: string): string => fs.readFileSync(path.join(REPO_ROOT, 'nodes', node, `${node}.html`), 'utf8');

describe('the editor rows the nodes share, expanded by the build', function () {
  const nodes = packageNodes(REPO_ROOT);

  before(function () {
    this.timeout(60_000);
    // The build's asset step (`npm run build` runs it after tsc).
    execFileSync(process.execPath, [path.join(REPO_ROOT, 'dist', 'tools', 'copy-node-assets.js')], { cwd: REPO_ROOT, stdio: 'pipe' });
  });

  it('every node\'s editor file in dist has its shared rows in order, whole, and no marker left', () => {
    assert.deepEqual([...nodes].sort(), Object.keys(ROWS).sort());
    for (const node of nodes) {
      const html = distHtml(node);
      assert.ok(sourceHtml(node).includes('<!-- cer-editor: name'), `${node}: the source names its row by marker`);
      assert.doesNotMatch(html, /cer-editor/, `${node}: a marker is left`);
      assert.doesNotMatch(html, /\{\{/, `${node}: a placeholder is left`);
      let at = -1;
      for (const row of ROWS[node]) {
        const m = row.pattern(node).exec(html);
        assert.ok(m, `${node}: the ${row.what} row`);
        assert.ok(m.index > at, `${node}: the ${row.what} row is out of order`);
        at = m.index;
      }
      // Every row is a whole element: as many <div> as </div> in the dialog's template.
      const template = html.slice(html.indexOf('data-template-name'));
      assert.equal((template.match(/<div\b/g) ?? []).length, (template.match(/<\/div>/g) ?? []).length, `${node}: unbalanced <div>`);
    }
  });

  it('every text the editor files name is in the node\'s catalogue, and every input is a setting of the node', () => {
    for (const node of nodes) {
      const html = distHtml(node);
      const catalogue = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'dist', 'nodes', node, 'locales', 'en-US', `${node}.json`), 'utf8')) as unknown;
      const keys = [...html.matchAll(/data-i18n="(?:\[\w+\])?([^"]+)"/g)].map((m) => m[1]);
      assert.ok(keys.length > 3, `${node}: texts by key`);
      for (const key of keys) assert.equal(typeof lookup(catalogue, key), 'string', `${node}: "${key}" is not in locales/en-US/${node}.json`);
      const defaults = html.slice(html.indexOf('defaults:'), html.indexOf('inputs:') >= 0 ? html.indexOf('inputs:') : undefined);
      const ids = [...html.matchAll(/id="node-(?:config-)?input-(\w+)"/g)].map((m) => m[1]);
      assert.ok(ids.includes('name'), `${node}: a name input`);
      for (const id of ids) assert.match(defaults, new RegExp(`\\b${id}: \\{`), `${node}: input ${id} is no setting in defaults`);
    }
  });

  it('a marker that names no snippet, misses a value or has one too many fails the build, naming the file and line', () => {
    const snippet = snippetReader(REPO_ROOT);
    const file = 'nodes/cer-x/cer-x.html';
    assert.throws(() => expandEditorSnippets('<div>\n  <!-- cer-editor: nmae -->\n', 'cer-x', file, snippet), {
      message: 'nodes/cer-x/cer-x.html:2: no editor snippet "nmae" (nodes/common/editor/nmae.html)',
    });
    assert.throws(() => expandEditorSnippets('  <!-- cer-editor: checkbox -->', 'cer-x', file, snippet), {
      message: 'nodes/cer-x/cer-x.html:1: snippet "checkbox" needs field=… in its marker',
    });
    assert.throws(() => expandEditorSnippets('\n\n<!-- cer-editor: checkbox field=gate colour=red -->', 'cer-x', file, snippet), {
      message: 'nodes/cer-x/cer-x.html:3: snippet "checkbox" has no {{colour}}',
    });
    assert.throws(() => expandEditorSnippets('<!-- cer-editor: select field=rule icon=gavel -->', 'cer-x', file, snippet), {
      message: 'nodes/cer-x/cer-x.html:1: snippet "select" needs options=… in its marker',
    });
    assert.throws(() => expandEditorSnippets('<div><!-- cer-editor: name --></div>', 'cer-x', file, snippet), {
      message: 'nodes/cer-x/cer-x.html:1: a cer-editor marker stands alone on its line, as <!-- cer-editor: name key=value … -->',
    });
  });

  it('a snippet stands at its marker\'s indentation, with the node\'s name and the marker\'s values', () => {
    const out = expandEditorSnippets('<script>\n    <!-- cer-editor: checkbox field=gate -->\n</script>\n', 'cer-acoustic', 'x.html', snippetReader(REPO_ROOT));
    const lines = out.split('\n');
    assert.equal(lines[0], '<script>');
    assert.equal(lines[lines.length - 2], '</script>');
    const rows = lines.slice(1, -2);
    assert.ok(rows.length >= 3);
    assert.match(rows[0], /^ {4}<div/);
    for (const l of rows) assert.ok(l.startsWith('    '), `indented as its marker: ${JSON.stringify(l)}`);
    assert.match(out, /id="node-input-gate"[^\n]*data-i18n="cer-acoustic\.label\.gate"/);
  });

  it('a select lists one option per value of its marker, in the marker\'s order, inside the select', () => {
    const out = expandEditorSnippets('  <!-- cer-editor: select field=rule icon=gavel options=none,rule2 -->', 'cer-rules', 'x.html', snippetReader(REPO_ROOT));
    const lines = out.split('\n');
    const opening = lines.findIndex((l) => l.includes('<select id="node-input-rule">'));
    const options = lines.filter((l) => l.includes('<option'));
    assert.deepEqual(
      options.map((l) => l.trim()),
      ['<option value="none" data-i18n="cer-rules.rule.none"></option>', '<option value="rule2" data-i18n="cer-rules.rule.rule2"></option>'],
    );
    assert.equal(lines.indexOf(options[0]), opening + 1);
    assert.ok(options.every((l) => l.indexOf('<') > lines[opening].indexOf('<')), 'options indented inside the select');
    assert.match(out, /<i class="fa fa-gavel"><\/i> <span data-i18n="cer-rules\.label\.rule">/);
  });
});
