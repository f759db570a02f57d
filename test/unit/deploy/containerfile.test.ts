// The worker image cannot be built here (no container engine runs), so its build file is checked as
// text: the base, the install (the same script and production-only install as CI's packed-CLI step),
// no build tools, a non-root user, the entrypoint, and a build context that holds what it copies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEPLOY = join(ROOT, 'infra', 'deploy');

interface Instruction {
  op: string;
  args: string;
}

/** Instructions of a Containerfile: comments dropped, continuation lines joined. */
function parseContainerfile(text: string): Instruction[] {
  const logical = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return logical
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [, op, args] = /^\s*(\w+)\s+(.*)$/.exec(line) ?? assert.fail(`not an instruction: ${line}`);
      return { op: op!.toUpperCase(), args: args!.trim() };
    });
}

const instructions = parseContainerfile(readFileSync(join(DEPLOY, 'Containerfile'), 'utf8'));
const all = (op: string) => instructions.filter((i) => i.op === op);
const argDefault = (name: string) =>
  all('ARG')
    .map((i) => /^(\w+)=(.*)$/.exec(i.args))
    .find((m) => m?.[1] === name)?.[2];

test('the image starts from Node 20 slim', () => {
  assert.match(argDefault('NODE_IMAGE') ?? '', /^node:20(\.\d+)*-(\w+-)?slim$/);
  assert.deepEqual(
    all('FROM').map((i) => i.args),
    ['${NODE_IMAGE}'],
  );
});

test('the image installs the packed CLI with the same script and settings as CI, and nothing else', () => {
  assert.equal(argDefault('ONNXRUNTIME_NODE_INSTALL'), 'skip');
  const runs = all('RUN').map((i) => i.args);
  const install = runs.filter((r) => r.includes('install-packed.sh'));
  assert.equal(install.length, 1, runs.join('\n'));
  assert.match(
    install[0]!,
    /^ONNXRUNTIME_NODE_INSTALL=\$\{ONNXRUNTIME_NODE_INSTALL\} \/tmp\/fiberscope\/install-packed\.sh \/tmp\/fiberscope\/fiberscope\.tgz \/opt\/fiberscope /,
  );
  // CI's packed-CLI step goes through the same script with the same setting.
  const ci = readFileSync(join(ROOT, '.ci', 'packed-cli.sh'), 'utf8');
  assert.match(ci, /^ONNXRUNTIME_NODE_INSTALL=skip "\$repo\/infra\/deploy\/install-packed\.sh" "\$tarball" /m);
  const script = readFileSync(join(DEPLOY, 'install-packed.sh'), 'utf8');
  assert.match(script, /npm install --global --prefix "\$prefix" --omit=dev /);
  for (const run of runs) {
    assert.doesNotMatch(
      run,
      /\b(apt-get|apt|apk|yum|dnf|gcc|g\+\+|make|build-essential|python3?|npm (ci|install|i))\b/,
      run,
    );
  }
  const path = all('ENV').find((i) => /\bPATH=/.test(i.args));
  assert.match(path?.args ?? '', /PATH=\/opt\/fiberscope\/bin:/);
});

test('the image runs `fiberscope worker` as a non-root user, serving the endpoint the chart probes', () => {
  const users = all('USER').map((i) => i.args);
  assert.equal(users.length, 1);
  assert.doesNotMatch(users[0]!, /^(root|0)(:|$)/);
  assert.deepEqual(JSON.parse(all('ENTRYPOINT')[0]!.args), ['fiberscope', 'worker']);
  const values = readFileSync(join(DEPLOY, 'chart', 'values.yaml'), 'utf8');
  const port = /^\s+httpPort: (\d+)$/m.exec(values)?.[1];
  assert.deepEqual(
    all('EXPOSE').map((i) => i.args),
    [port],
  );
  assert.match(
    all('ENV')
      .map((i) => i.args)
      .join(' '),
    new RegExp(`FIBERSCOPE_WORKER_HTTP_PORT=${port}\\b`),
  );
});

test('the build context that build-image.sh assembles holds every file the image copies', async () => {
  const context = await mkdtemp(join(tmpdir(), 'fiberscope-image-'));
  try {
    execFileSync(join(DEPLOY, 'build-image.sh'), ['--context', context], { stdio: 'pipe' });
    const copies = all('COPY');
    assert.ok(copies.length > 0);
    for (const copy of copies) {
      const sources = copy.args.split(/\s+/).slice(0, -1);
      for (const source of sources) assert.ok(existsSync(join(context, source)), `${source} in the build context`);
    }
    const listing = execFileSync('tar', ['tzf', join(context, 'fiberscope.tgz')], { encoding: 'utf8' });
    assert.match(listing, /^package\/bin\/fiberscope\.js$/m);
  } finally {
    await rm(context, { recursive: true, force: true });
  }
});
