import { existsSync } from 'node:fs';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkerOptions } from '@temporalio/worker';

/** The package root (…/fiberscope/), with a trailing separator. */
const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The workflows bundle entry: the .ts source when run from source, the compiled .js from dist/. */
export function workflowsPath(): string {
  const source = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
  return existsSync(source) ? source : fileURLToPath(new URL('../workflows/index.js', import.meta.url));
}

/**
 * Temporal's bundler compiles `.ts` files only outside node_modules, but an installed fiberscope lives
 * inside one (…/node_modules/fiberscope/workflows/). Only the part of a path below the package root
 * decides, so the package's own sources compile and its dependencies stay excluded.
 */
function outsideOwnSources(path: string): boolean {
  const below = path.startsWith(PACKAGE_ROOT) ? path.slice(PACKAGE_ROOT.length) : path;
  return below.split(sep).includes('node_modules');
}

/** Bundler options for the workflows: the TypeScript rule judges node_modules below the package root only. */
export function workflowBundlerOptions(): NonNullable<WorkerOptions['bundlerOptions']> {
  return {
    webpackConfigHook: (config) => {
      for (const rule of config.module?.rules ?? []) {
        if (rule && typeof rule === 'object' && rule.test instanceof RegExp && rule.test.test('workflow.ts')) {
          rule.exclude = outsideOwnSources;
        }
      }
      return config;
    },
  };
}
