#!/usr/bin/env node
// Entry point of the `fiberscope` command: runs the TypeScript sources through tsx's loader,
// so a fresh checkout needs no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
