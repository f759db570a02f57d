import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActivityFailure, ApplicationFailure, RetryState, TimeoutFailure, TimeoutType } from '@temporalio/common';
import { BundleError, InputError, RunFailedError, ServiceError } from '../../../engine/errors.ts';
import { EXIT, exitCodeFor, exitCodeOf } from '../../../cli/exit.ts';
import { describeFailure } from '../../../cli/failures.ts';
import { classifyS3Failure } from '../../../store/objects.ts';
import { AUDIT_STEP_FAILED } from '../../../runs/failures.ts';

const unreachable = () => classifyS3Failure(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8333'), { code: 'ECONNREFUSED' }), 'http://127.0.0.1:8333', 's3://b/p')!;

test('S3 client failures are classified by what the user has to check', () => {
  assert.equal(unreachable().failure, 'unreachable');
  assert.match(unreachable().message, /^storage unreachable at http:\/\/127\.0\.0\.1:8333 \(s3:\/\/b\/p\): connect ECONNREFUSED 127\.0\.0\.1:8333;/);
  assert.equal(classifyS3Failure({ name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } }, 'e', 's3://b')!.failure, 'bucket-missing');
  assert.equal(classifyS3Failure({ name: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } }, 'e', 's3://b')!.failure, 'credentials');
  assert.equal(classifyS3Failure({ name: 'InternalError', $metadata: { httpStatusCode: 503 } }, 'e', 's3://b')!.failure, 'unreachable');
  assert.equal(classifyS3Failure({ name: 'InvalidArgument', $metadata: { httpStatusCode: 400 } }, 'e', 's3://b'), null);
});

test('a local run failure names the run, phase, shard, what is kept and how to finish it; exit 4', () => {
  const err = new RunFailedError({ runId: 'r1', phase: 'sampling', shard: 'shard-00002' }, { cause: unreachable() });
  const f = describeFailure(err, { kept: '2 of 6 shards done', resume: 'fiberscope audit --resume r1 --out s3://b/p' });
  assert.equal(f.kind, 'storage-unreachable');
  assert.equal(exitCodeOf(f.kind), EXIT.outage);
  assert.deepEqual([f.runId, f.phase, f.shard], ['r1', 'sampling', 'shard-00002']);
  assert.equal(
    f.message,
    'run r1 failed while sampling shard shard-00002: ' + unreachable().message + '\n  kept: 2 of 6 shards done\n  to finish the run: fiberscope audit --resume r1 --out s3://b/p',
  );
});

test('a Temporal failure chain is read through to its cause: the shard from the workflow, the class from the activity', () => {
  const activity = ApplicationFailure.create({ type: 'ServiceError', message: 'storage unreachable at e', details: ['storage', 'unreachable', 'e'] });
  const step = (cause: Error) =>
    ApplicationFailure.create({ type: AUDIT_STEP_FAILED, message: 'x', details: [{ runId: 'r2', phase: 'sampling', shard: 'shard-00001' }], cause: new ActivityFailure('Activity task failed', 'sampleShard', '1', RetryState.MAXIMUM_ATTEMPTS_REACHED, 'w', cause) });
  const f = describeFailure(step(activity));
  assert.deepEqual([f.kind, f.runId, f.shard, f.cause], ['storage-unreachable', 'r2', 'shard-00001', 'storage unreachable at e']);
  assert.equal(describeFailure(step(new TimeoutFailure('heartbeat', undefined, TimeoutType.HEARTBEAT))).kind, 'worker-lost');
  assert.equal(describeFailure(step(new TimeoutFailure('t', undefined, TimeoutType.START_TO_CLOSE))).kind, 'timed-out');
  assert.equal(describeFailure(step(ApplicationFailure.create({ type: 'BundleError', message: 'prior bundle p: differs' }))).kind, 'bundle-invalid');
  const prepare = new ActivityFailure('Activity task failed', 'prepareRun', '1', RetryState.NON_RETRYABLE_FAILURE, 'w', ApplicationFailure.create({ type: 'InputError', message: 'resume: no run' }));
  assert.deepEqual([describeFailure(prepare).kind, describeFailure(prepare).phase], ['input', 'preparing']);
});

test('input, bundle and configuration errors exit 2; an unclassified error outside a run is internal, exit 3', () => {
  assert.equal(exitCodeOf(describeFailure(new InputError('k', 'expected a positive integer')).kind), EXIT.usage);
  assert.equal(describeFailure(new BundleError('prior bundle p', 'differs')).kind, 'bundle-invalid');
  assert.equal(exitCodeOf(describeFailure(new ServiceError('temporal', 'namespace-missing', 'a', 'm')).kind), EXIT.usage);
  assert.equal(exitCodeOf(describeFailure(new TypeError('x is undefined')).kind), EXIT.internal);
  assert.equal(describeFailure(new RunFailedError({ runId: 'r', phase: 'summarizing' }, { cause: new TypeError('boom') })).kind, 'failed');
});

test('one message without a stack unless verbose, and never a secret from the environment', () => {
  const chunks: string[] = [];
  const stderr = { write: (c: string) => chunks.push(c) } as unknown as NodeJS.WritableStream;
  const err = new RunFailedError({ runId: 'r', phase: 'sampling' }, { cause: new Error('server said: key s3cr3t-value refused') });
  const env = { FIBERSCOPE_S3_SECRET_KEY: 's3cr3t-value' };
  assert.doesNotMatch(describeFailure(err, {}, env).message, /s3cr3t-value/);
  assert.match(describeFailure(err, {}, env).message, /key \*\*\* refused/);
  const saved = process.env.FIBERSCOPE_S3_SECRET_KEY;
  process.env.FIBERSCOPE_S3_SECRET_KEY = 's3cr3t-value';
  try {
    assert.equal(exitCodeFor(err, { stderr }), EXIT.outage);
    assert.equal(chunks.length, 1);
    assert.doesNotMatch(chunks.join(''), /\n\s+at |s3cr3t-value/);
    exitCodeFor(err, { stderr, verbose: true });
    assert.match(chunks.join(''), /\n\s+at /);
  } finally {
    if (saved === undefined) delete process.env.FIBERSCOPE_S3_SECRET_KEY;
    else process.env.FIBERSCOPE_S3_SECRET_KEY = saved;
  }
});
