import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../../engine/errors.ts';
import { storeSpecFromEnv, TEMPORAL_DEFAULTS, temporalSettingsFromEnv } from '../../../workers/env.ts';

test('Temporal settings default to the services script and follow the environment', () => {
  assert.deepEqual(temporalSettingsFromEnv({}), TEMPORAL_DEFAULTS);
  assert.deepEqual(temporalSettingsFromEnv({ FIBERSCOPE_TEMPORAL_ADDRESS: 'temporal:7000', FIBERSCOPE_TEMPORAL_NAMESPACE: 'audits' }), {
    address: 'temporal:7000',
    namespace: 'audits',
  });
});

test('a worker store comes from FIBERSCOPE_STORE, else the services bucket, else a clear error', () => {
  assert.equal(storeSpecFromEnv({ FIBERSCOPE_STORE: '/data/runs', FIBERSCOPE_S3_BUCKET: 'b' }), '/data/runs');
  assert.equal(storeSpecFromEnv({ FIBERSCOPE_S3_BUCKET: 'audits' }), 's3://audits');
  assert.throws(() => storeSpecFromEnv({}), (err: unknown) => err instanceof InputError && err.input === 'FIBERSCOPE_STORE');
});
