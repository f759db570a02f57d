import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../../cli/main.ts';

test('an unknown command is a usage error (exit 2)', async () => {
  assert.equal(await main(['no-such-command']), 2);
});

test('a planned command refuses with exit 2 instead of pretending to work', async () => {
  assert.equal(await main(['schedule']), 2);
});
