/**
 * The second half of `npm run build` (after tsc): puts beside each compiled node in dist/nodes/<n>/
 * what Node-RED loads from beside a node's .js file: its editor file (<n>.html), its message
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

/** Copies every node's editor file, locales and icons into dist/nodes/<n>/. */
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
  for (const { name, icons: own } of plan) {
    const src = path.join(root, 'nodes', name);
    const dest = path.join(root, 'dist', 'nodes', name);
    if (!fs.existsSync(path.join(dest, `${name}.js`))) throw new Error(`${path.relative(root, dest)}/${name}.js is missing: run tsc first`);
    fs.copyFileSync(path.join(src, `${name}.html`), path.join(dest, `${name}.html`));
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
