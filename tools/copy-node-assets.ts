/**
 * The second half of `npm run build` (after tsc): puts beside each compiled node in dist/nodes/<n>/
 * what Node-RED loads from beside a node's .js file: its editor file (<n>.html, with the editor
 * rows the nodes share expanded from nodes/common/editor/, see expandEditorSnippets), its message
 * catalogues and help (locales/), and the icons (icons/). Node-RED finds a package's icons only in
 * an `icons` folder beside a node's .js file (@node-red/registry localfilesystem.js
 * getModuleNodeFiles), never in the package root, so the one source of the icons, the top-level
 * icons/, is copied there: each icon once, beside the first node (in package.json order) whose
 * editor file names it, so the editor's icon list holds each of them once (Node-RED looks an icon
 * up in every icon folder of the package, whichever node asks for it). Icons that no node names
 * go beside the first node.
 *
 *   node dist/tools/copy-node-assets.js
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository root (this file runs as dist/tools/copy-node-assets.js). */
const ROOT = path.resolve(__dirname, '..', '..');

export interface NodeAssets {
  /** The node's name: the folder under nodes/ and the base name of its files. */
  readonly name: string;
  /** The icons (file names in icons/) to place beside it. */
  readonly icons: string[];
}

/** The node names of package.json's "node-red".nodes, in their order (dist/nodes/<n>/<n>.js). */
export function packageNodes(root: string = ROOT): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { 'node-red'?: { nodes?: Record<string, string> } };
  return Object.values(pkg['node-red']?.nodes ?? {}).map((file) => path.basename(file, path.extname(file)));
}

/** The icon file names an editor file names (`icon: 'x.svg'`). */
export function iconsNamed(html: string): string[] {
  const found = new Set<string>();
  for (const m of html.matchAll(/\bicon\s*:\s*['"]([^'"/]+\.(?:svg|png))['"]/g)) found.add(m[1]);
  return [...found];
}

/** Which icons go beside which node: each icon once, beside the first node that names it. */
export function planIcons(nodes: ReadonlyArray<{ name: string; html: string }>, icons: readonly string[]): NodeAssets[] {
  const placed = new Set<string>();
  const plan = nodes.map((n) => ({ name: n.name, icons: [] as string[] }));
  nodes.forEach((n, i) => {
    for (const icon of iconsNamed(n.html)) {
      if (!icons.includes(icon)) throw new Error(`nodes/${n.name}/${n.name}.html names icon ${icon}, which is not in icons/`);
      if (placed.has(icon)) continue;
      placed.add(icon);
      plan[i].icons.push(icon);
    }
  });
  if (plan.length > 0) for (const icon of icons) if (!placed.has(icon)) plan[0].icons.push(icon);
  return plan;
}

/** The folder of the editor rows the nodes share (nodes/common/editor/<snippet>.html). */
export const SNIPPETS_DIR = path.join('nodes', 'common', 'editor');

/** A marker line of an editor file: `<!-- cer-editor: checkbox field=gate -->`, a snippet's name and its values. */
const MARKER = /^([ \t]*)<!--\s*cer-editor:\s*([a-z][a-z0-9-]*)((?:\s+[A-Za-z]+=\S+)*)\s*-->[ \t]*$/;
/** A snippet line that repeats a snippet per value of a list: `{{each options option}}`. */
const EACH = /^([ \t]*)\{\{each ([A-Za-z]+) ([a-z][a-z0-9-]*)\}\}$/;

/** Each line of `text` but the empty ones indented by `indent`. */
const indented = (text: string, indent: string): string =>
  text
    .split('\n')
    .map((l) => (l === '' ? l : indent + l))
    .join('\n');

/**
 * A snippet with its `{{key}}` placeholders filled from `values`; a line `{{each key name}}`
 * stands for snippet `name` once per comma-separated item of `values[key]`, with the item as
 * `{{value}}`. Every value must be used (a misspelt key in a marker is an error).
 */
function fillSnippet(name: string, values: Readonly<Record<string, string>>, where: string, snippet: (name: string) => string | null, used = new Set(['node', 'input'])): string {
  const text = snippet(name);
  if (text === null) throw new Error(`${where}: no editor snippet "${name}" (${SNIPPETS_DIR}/${name}.html)`);
  const value = (key: string): string => {
    if (!(key in values)) throw new Error(`${where}: snippet "${name}" needs ${key}=… in its marker`);
    used.add(key);
    return values[key];
  };
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((line) => {
      const each = EACH.exec(line);
      if (each === null) return line.replace(/\{\{([A-Za-z]+)\}\}/g, (_, key: string) => value(key));
      const [, indent, key, inner] = each;
      const items = value(key).split(',');
      return items.map((item) => indented(fillSnippet(inner, { ...values, value: item }, where, snippet, used), indent)).join('\n');
    })
    .join('\n');
}

/**
 * An editor file with each marker line replaced by its snippet, indented as the marker is. In a
 * snippet `{{node}}` is the node's name (its i18n namespace), `{{input}}` the prefix of its input
 * ids (`node-input`; a config node's marker gives `input=node-config-input`), and any other
 * `{{key}}` the marker's `key=value`. `file` names the editor file in errors; `snippet` gives a
 * snippet's text by name, or null where there is none.
 */
export function expandEditorSnippets(html: string, node: string, file: string, snippet: (name: string) => string | null): string {
  return html
    .split('\n')
    .map((line, i) => {
      const where = `${file}:${i + 1}`;
      if (!line.includes('cer-editor:')) return line;
      const m = MARKER.exec(line);
      if (m === null) throw new Error(`${where}: a cer-editor marker stands alone on its line, as <!-- cer-editor: name key=value … -->`);
      const [, indent, name, args] = m;
      const values: Record<string, string> = { node, input: 'node-input' };
      for (const arg of args.trim().split(/\s+/).filter((a) => a !== '')) {
        const eq = arg.indexOf('=');
        values[arg.slice(0, eq)] = arg.slice(eq + 1);
      }
      const used = new Set(['node', 'input']);
      const filled = fillSnippet(name, values, where, snippet, used);
      const unused = Object.keys(values).filter((k) => !used.has(k));
      if (unused.length > 0) throw new Error(`${where}: snippet "${name}" has no {{${unused[0]}}}`);
      return indented(filled, indent);
    })
    .join('\n');
}

/** The editor snippets of a checkout, read from SNIPPETS_DIR by name. */
export function snippetReader(root: string = ROOT): (name: string) => string | null {
  return (name) => {
    const file = path.join(root, SNIPPETS_DIR, `${name}.html`);
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
  };
}

/** Copies every node's editor file (snippets expanded), locales and icons into dist/nodes/<n>/. */
export function copyNodeAssets(root: string = ROOT): NodeAssets[] {
  const names = packageNodes(root);
  const iconsDir = path.join(root, 'icons');
  const icons = fs.readdirSync(iconsDir).filter((f) => /\.(svg|png)$/.test(f)).sort();
  const nodes = names.map((name) => {
    const html = path.join(root, 'nodes', name, `${name}.html`);
    if (!fs.existsSync(html)) throw new Error(`${path.relative(root, html)} is missing`);
    return { name, html: fs.readFileSync(html, 'utf8') };
  });
  const plan = planIcons(nodes, icons);
  const snippet = snippetReader(root);
  for (const [i, { name, icons: own }] of plan.entries()) {
    const src = path.join(root, 'nodes', name);
    const dest = path.join(root, 'dist', 'nodes', name);
    if (!fs.existsSync(path.join(dest, `${name}.js`))) throw new Error(`${path.relative(root, dest)}/${name}.js is missing: run tsc first`);
    fs.writeFileSync(path.join(dest, `${name}.html`), expandEditorSnippets(nodes[i].html, name, `nodes/${name}/${name}.html`, snippet));
    // Whole folders replaced, so that a file removed from the sources goes from dist too.
    fs.rmSync(path.join(dest, 'locales'), { recursive: true, force: true });
    if (fs.existsSync(path.join(src, 'locales'))) fs.cpSync(path.join(src, 'locales'), path.join(dest, 'locales'), { recursive: true });
    fs.rmSync(path.join(dest, 'icons'), { recursive: true, force: true });
    if (own.length > 0) {
      fs.mkdirSync(path.join(dest, 'icons'));
      for (const icon of own) fs.copyFileSync(path.join(iconsDir, icon), path.join(dest, 'icons', icon));
    }
  }
  return plan;
}

if (require.main === module) {
  try {
    copyNodeAssets();
  } catch (err) {
    process.stderr.write(`copy-node-assets: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
