#!/usr/bin/env node
// Entry point of the `fiberscope` command: runs the TypeScript sources through tsx's loader,
// so a fresh checkout needs no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
// A command that has returned is done: a handle a library left open (a worker's thread pool after a
// refused start) must not keep the process alive. Output still drains meanwhile.
setTimeout(() => process.exit(), 2000).unref();
