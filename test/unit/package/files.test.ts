// What `npm pack` ships against what the shipped commands load: every local file reachable from the
// `bin` entry (static and lazy imports, and files read through `new URL(..., import.meta.url)`, such
// as package.json and the workflows the control worker bundles from source) must be in the tarball.
// A new top-level source folder imported by the CLI fails here until it is added to `files` in
// package.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

let packed: Set<string> | undefined;
function packedFiles(): Set<string> {
  if (packed) return packed;
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  const [entry] = JSON.parse(out) as { files: { path: string }[] }[];
  packed = new Set(entry!.files.map((f) => f.path));
  return packed;
}

const IMPORT = /(?:\bfrom|\bimport)\s*\(?\s*'(\.{1,2}\/[^']+)'/g;
const URL_REF = /new URL\(\s*'(\.{1,2}\/[^']*)'\s*,\s*import\.meta\.url\s*\)/g;

/** Every local file the entries load, as paths relative to the repository root, with who loads it. */
function reachable(entries: string[]): Map<string, string> {
  const seen = new Map<string, string>(entries.map((e) => [e, 'package.json bin']));
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (!/\.[cm]?[jt]s$/.test(file)) continue;
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const pattern of [IMPORT, URL_REF]) {
      for (const match of text.matchAll(pattern)) {
        const target = resolve(dirname(join(ROOT, file)), match[1]!);
        // A missing target is a fallback for another layout (compiled .js); a folder is no file to ship.
        if (!existsSync(target) || statSync(target).isDirectory()) continue;
        const rel = relative(ROOT, target);
        if (!seen.has(rel)) {
          seen.set(rel, file);
          queue.push(rel);
        }
      }
    }
  }
  return seen;
}

test('every file the shipped commands load is in the package', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  const entries = Object.values(pkg.bin).map((p) => relative(ROOT, join(ROOT, p)));
  const loaded = reachable(entries);
  // The walk must reach past the entry point into the lazily imported command implementations.
  assert.ok(
    loaded.has('cli/main.ts') && loaded.has('cli/actions/demo.ts') && loaded.has('workflows/index.ts'),
    [...loaded.keys()].join(', '),
  );
  assert.ok(loaded.has('package.json'));
  const missing = [...loaded]
    .filter(([file]) => !packedFiles().has(file))
    .map(([file, by]) => `${file} (loaded by ${by})`);
  assert.deepEqual(missing, [], 'add their folders to "files" in package.json');
});

test('the package holds no tests, CI, benchmarks, deployment or lint configuration', () => {
  const unwanted = [...packedFiles()].filter(
    (f) =>
      /^(test|bench|infra|\.ci|node_modules)\//.test(f) ||
      /\.test\.ts$/.test(f) ||
      /^(eslint\.config|tsconfig|\.prettier|\.git)/.test(f),
  );
  assert.deepEqual(unwanted, []);
});

test('the package holds the README, the licence and every file the README links to', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const links = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
    .map((m) => m[1]!)
    .filter((l) => !/^[a-z]+:/.test(l));
  assert.ok(links.length > 0, 'the README links to files of the repository');
  const missing = ['README.md', 'LICENSE', 'package.json', ...links].filter((f) => !packedFiles().has(f));
  assert.deepEqual(missing, []);
});
