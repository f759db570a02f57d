import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InputError, ServiceError } from '../../../engine/errors.ts';
import { checkKey, FileStore, ObjectNotFoundError, openStore, S3Store, sanitizeKeyPart } from '../../../store/objects.ts';

async function withFolder(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'fiberscope-store-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('FileStore puts, gets, overwrites, lists by prefix and deletes', async () => {
  await withFolder(async (dir) => {
    const store = new FileStore(dir);
    await store.put('runs/r1/manifest.json', '{"a":1}', 'application/json');
    await store.put('runs/r1/shards/0.arrow', new Uint8Array([1, 2, 3]));
    await store.put('runs/r2/manifest.json', 'x');
    assert.equal(new TextDecoder().decode(await store.get('runs/r1/manifest.json')), '{"a":1}');
    await store.put('runs/r1/manifest.json', '{"a":2}');
    assert.equal(new TextDecoder().decode(await store.get('runs/r1/manifest.json')), '{"a":2}');
    assert.deepEqual(await store.get('runs/r1/shards/0.arrow'), new Uint8Array([1, 2, 3]));
    assert.deepEqual(await store.list('runs/r1/'), ['runs/r1/manifest.json', 'runs/r1/shards/0.arrow']);
    assert.deepEqual(await store.list('runs/r'), ['runs/r1/manifest.json', 'runs/r1/shards/0.arrow', 'runs/r2/manifest.json']);
    assert.deepEqual(await store.list('runs/r1/shards/0'), ['runs/r1/shards/0.arrow']);
    assert.deepEqual(await store.list('nothing/here/'), []);
    assert.equal(await store.exists('runs/r1/manifest.json'), true);
    assert.equal(await store.exists('runs/r1'), false, 'a folder is not an object');
    await store.delete('runs/r1/manifest.json');
    await store.delete('runs/r1/manifest.json');
    assert.equal(await store.exists('runs/r1/manifest.json'), false);
    await assert.rejects(store.get('runs/r1/manifest.json'), ObjectNotFoundError);
    // Atomic writes leave no temporary files behind.
    assert.deepEqual(await readdir(join(dir, 'runs', 'r1', 'shards')), ['0.arrow']);
  });
});

test('keys that could escape the store or are not plain segments are refused', async () => {
  await withFolder(async (dir) => {
    const store = new FileStore(dir);
    for (const key of ['../x', 'a/../../x', '/abs', 'a//b', 'a/./b', '', 'a b', 'a/b/']) {
      await assert.rejects(store.put(key, 'x'), InputError, `key '${key}'`);
    }
    assert.equal(checkKey('runs/r-1/images/cat_01.jpg-3f/0.png'), 'runs/r-1/images/cat_01.jpg-3f/0.png');
  });
});

test('sanitizeKeyPart keeps safe ids and makes unsafe ones safe and distinct', () => {
  assert.equal(sanitizeKeyPart('cat_001.jpg'), 'cat_001.jpg');
  const unsafe = ['a/b', 'a_b/', 'a b', '../etc/passwd', '..', '.', 'é', 'x'.repeat(300), '日本'];
  const keys = unsafe.map(sanitizeKeyPart);
  for (const [i, key] of keys.entries()) {
    assert.doesNotThrow(() => checkKey(key), `sanitised '${unsafe[i]}' -> '${key}'`);
    assert.ok(key.length <= 120, key);
  }
  assert.equal(new Set([...keys, 'a_b']).size, keys.length + 1, 'distinct ids map to distinct keys');
  assert.equal(sanitizeKeyPart('a/b'), sanitizeKeyPart('a/b'), 'deterministic');
  assert.throws(() => sanitizeKeyPart(''), InputError);
});

test('openStore maps paths and file:// URLs to FileStore and s3:// to S3Store with env settings', async () => {
  await withFolder(async (dir) => {
    const byPath = openStore(dir);
    assert.ok(byPath instanceof FileStore);
    assert.equal(byPath.root, dir);
    const byUrl = openStore(pathToFileURL(dir).href);
    assert.ok(byUrl instanceof FileStore);
    assert.equal(byUrl.root, dir);
  });
  const env = {
    FIBERSCOPE_S3_ENDPOINT: 'http://127.0.0.1:1',
    FIBERSCOPE_S3_ACCESS_KEY: 'k',
    FIBERSCOPE_S3_SECRET_KEY: 's',
    FIBERSCOPE_S3_REGION: 'eu-west-3',
  };
  const s3 = openStore('s3://my-bucket/team/audits/', env);
  assert.ok(s3 instanceof S3Store);
  assert.equal(s3.bucket, 'my-bucket');
  assert.equal(s3.prefix, 'team/audits');
  assert.equal(s3.location, 's3://my-bucket/team/audits');
  assert.equal(await s3.client.config.region(), 'eu-west-3');
  assert.equal((await s3.client.config.credentials()).accessKeyId, 'k');
  assert.throws(() => openStore('s3://Bad_Bucket/x', env), InputError);
  assert.throws(() => openStore('gs://bucket/x', env), InputError);
  assert.throws(() => openStore('', env), InputError);
  assert.throws(() => openStore('s3://bucket', { FIBERSCOPE_S3_ACCESS_KEY: 'k' }), InputError);
});

test('with the FIBERSCOPE_S3_* variables unset, openStore takes the standard AWS ones; FIBERSCOPE_S3_* win when set', async () => {
  const aws = {
    AWS_ENDPOINT_URL_S3: 'http://s3.internal:9000',
    AWS_REGION: 'ap-south-1',
    AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret',
    AWS_SESSION_TOKEN: 'token',
  };
  const s3 = openStore('s3://my-bucket/x', aws) as S3Store;
  assert.equal(await s3.client.config.region(), 'ap-south-1');
  const endpoint = await s3.client.config.endpoint?.();
  assert.equal(endpoint?.hostname, 's3.internal');
  assert.equal(endpoint?.port, 9000);
  const credentials = await s3.client.config.credentials();
  assert.deepEqual([credentials.accessKeyId, credentials.secretAccessKey, credentials.sessionToken], ['AKIAEXAMPLE', 'secret', 'token']);

  const both = openStore('s3://my-bucket/x', { ...aws, FIBERSCOPE_S3_ACCESS_KEY: 'k', FIBERSCOPE_S3_SECRET_KEY: 's', FIBERSCOPE_S3_REGION: 'eu-west-3' }) as S3Store;
  assert.equal(await both.client.config.region(), 'eu-west-3');
  assert.equal((await both.client.config.credentials()).accessKeyId, 'k');
  assert.equal((await both.client.config.credentials()).sessionToken, undefined, "AWS's session token is not mixed into other keys");
  assert.throws(
    () => openStore('s3://my-bucket/x', { AWS_ACCESS_KEY_ID: 'k' }),
    (err: unknown) => err instanceof InputError && err.input === 'AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY',
  );
});

test('S3Store retries a refused connection with backoff, then fails', async () => {
  // A port that was just free: nothing listens there.
  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
  const store = new S3Store({
    bucket: 'b',
    endpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: 'k', secretAccessKey: 's' },
    maxAttempts: 3,
  });
  const error = await store.get('x').then(
    () => assert.fail('expected the request to fail'),
    (err: unknown) => err,
  );
  // Classified where it is thrown: the store is unreachable at its endpoint, a transient failure.
  assert.ok(error instanceof ServiceError, `expected a ServiceError, got ${String(error)}`);
  assert.equal(error.failure, 'unreachable');
  assert.equal(error.endpoint, `http://127.0.0.1:${port}`);
  assert.match(error.message, /storage unreachable at http:\/\/127\.0\.0\.1:\d+/);
  // The SDK's own record of its retries is kept as the cause.
  const cause = error.cause as { code?: string; $metadata?: { attempts?: number; totalRetryDelay?: number } };
  assert.equal(cause.code, 'ECONNREFUSED');
  assert.equal(cause.$metadata?.attempts, 3);
  assert.ok((cause.$metadata?.totalRetryDelay ?? 0) > 0, 'waited between attempts');
});
