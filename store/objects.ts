import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import type * as S3 from '@aws-sdk/client-s3';
import { InputError, ServiceError } from '../engine/errors.ts';

const require = createRequire(import.meta.url);
let sdk: typeof S3 | undefined;

/**
 * The AWS SDK, loaded when the first S3 store is made (its CommonJS build, which is also what an
 * ESM import of it resolves to): commands on folders never pay its import, about 0.3 s of start-up.
 */
function s3(): typeof S3 {
  return (sdk ??= require('@aws-sdk/client-s3') as typeof S3);
}

/**
 * Where run folders live: a flat key space with `/`-separated keys (`runs/<runId>/shards/0.arrow`).
 * Keys are derived from ids only, so a retried write overwrites the same object.
 */
export interface ObjectStore {
  /** Where this store points, for messages and manifests (`file:///…` or `s3://bucket/prefix`). */
  readonly location: string;
  put(key: string, body: Uint8Array | string, contentType?: string): Promise<void>;
  /** Throws `ObjectNotFoundError` when the key does not exist. */
  get(key: string): Promise<Uint8Array>;
  exists(key: string): Promise<boolean>;
  /** Every key that starts with `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  /**
   * The names of the immediate sub-folders of `folder` (a prefix ending in `/`, or '' for the root),
   * sorted: a catalogue of runs without listing every object of every run.
   */
  listFolders(folder: string): Promise<string[]>;
  /** Deleting a missing key is not an error, as in S3. */
  delete(key: string): Promise<void>;
}

export class ObjectNotFoundError extends Error {
  override readonly name = 'ObjectNotFoundError';
  readonly key: string;
  constructor(location: string, key: string, options?: { cause?: unknown }) {
    super(`no object '${key}' in ${location}`, options);
    this.key = key;
  }
}

/**
 * A JSON object of the store, or null when there is none. `malformedAsMissing`: a record still being
 * written by another process, or written by hand badly, also reads as absent.
 */
export async function readJsonIfPresent<T>(store: ObjectStore, key: string, opts: { malformedAsMissing?: boolean } = {}): Promise<T | null> {
  try {
    return JSON.parse(new TextDecoder().decode(await store.get(key))) as T;
  } catch (err) {
    if (err instanceof ObjectNotFoundError || (opts.malformedAsMissing === true && err instanceof SyntaxError)) return null;
    throw err;
  }
}

const KEY_SEGMENT = /^[A-Za-z0-9._=+-]+$/;
const TEMP_MARK = '.tmp-';

/** Keys are relative, `/`-separated, with no empty, `.` or `..` segments: they map safely onto files. */
export function checkKey(key: string): string {
  const segments = key.split('/');
  const bad = segments.find((s) => s === '.' || s === '..' || !KEY_SEGMENT.test(s) || s.includes(TEMP_MARK));
  if (key.length === 0 || key.length > 1024 || bad !== undefined) {
    throw new InputError('object key', `expected '/'-separated segments of [A-Za-z0-9._=+-], got '${key}'`);
  }
  return key;
}

/**
 * Turns a user-supplied id (an image file name, a manifest entry) into one safe key segment.
 * Ids that are already safe stay as they are; others get unsafe characters replaced and a short
 * hash of the original appended, so two different ids never share a key.
 */
export function sanitizeKeyPart(id: string): string {
  if (id.length === 0) throw new InputError('id', 'expected a non-empty id');
  const safe = KEY_SEGMENT.test(id) && id !== '.' && id !== '..' && !id.includes(TEMP_MARK) && id.length <= 120;
  if (safe) return id;
  const hash = createHash('sha256').update(id, 'utf8').digest('hex').slice(0, 10);
  const cleaned = id
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9._=+-]+/g, '_')
    .replace(/\.{2,}/g, '_')
    .replace(/^[._]+|[._]+$/g, '')
    .slice(0, 100);
  return cleaned.length > 0 ? `${cleaned}-${hash}` : hash;
}

function toBytes(body: Uint8Array | string): Uint8Array {
  return typeof body === 'string' ? new TextEncoder().encode(body) : body;
}

/** A Node system error with this code (ENOENT, EEXIST, ...). */
export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** A folder as an object store. Writes go to a temporary file renamed into place, so readers never see half an object. */
export class FileStore implements ObjectStore {
  readonly root: string;
  readonly location: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.location = `file://${this.root}`;
  }

  private pathOf(key: string): string {
    return join(this.root, ...checkKey(key).split('/'));
  }

  /** Files carry no content type; the key's extension says it. */
  async put(key: string, body: Uint8Array | string, _contentType?: string): Promise<void> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}${TEMP_MARK}${process.pid}-${randomBytes(6).toString('hex')}`;
    try {
      await writeFile(temp, toBytes(body));
      await rename(temp, path);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      const buf = await readFile(this.pathOf(key));
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'EISDIR')) throw new ObjectNotFoundError(this.location, key, { cause: err });
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(key))).isFile();
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return false;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    // Walk only the folder the prefix lies in, not the whole store.
    const cut = prefix.lastIndexOf('/');
    const folderKey = cut >= 0 ? prefix.slice(0, cut) : '';
    if (folderKey !== '') checkKey(folderKey);
    const keys: string[] = [];
    const walk = async (dir: string, keyPrefix: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return;
        throw err;
      }
      for (const entry of entries) {
        const key = keyPrefix + entry.name;
        if (entry.isDirectory()) {
          if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(join(dir, entry.name), `${key}/`);
        } else if (entry.isFile() && key.startsWith(prefix) && !entry.name.includes(TEMP_MARK)) {
          keys.push(key);
        }
      }
    };
    await walk(folderKey === '' ? this.root : join(this.root, ...folderKey.split('/')), folderKey === '' ? '' : `${folderKey}/`);
    return keys.sort();
  }

  async listFolders(folder: string): Promise<string[]> {
    const dir = folder === '' ? this.root : this.pathOf(folder.replace(/\/$/, ''));
    try {
      return (await readdir(dir, { withFileTypes: true }))
        .filter((e) => e.isDirectory() && KEY_SEGMENT.test(e.name))
        .map((e) => e.name)
        .sort();
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return [];
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }
}

export interface S3StoreOptions {
  bucket: string;
  /** Key prefix inside the bucket, without leading or trailing `/`; '' for the bucket root. */
  prefix?: string;
  /** S3-compatible endpoint URL (SeaweedFS, MinIO, Ceph…); omitted: AWS's own endpoint for the region. */
  endpoint?: string;
  region?: string;
  /** Omitted: the AWS SDK's default credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Attempts per request, with exponential backoff between them on throttling, 5xx and network errors. Default 5. */
  maxAttempts?: number;
}

/** A bucket (and prefix) of any S3-compatible store, addressed path-style. */
export class S3Store implements ObjectStore {
  readonly client: S3.S3Client;
  readonly bucket: string;
  readonly prefix: string;
  readonly location: string;
  /** The endpoint for messages: the URL asked, or AWS's own for the region. */
  readonly endpoint: string;

  constructor(options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.endpoint = options.endpoint ?? `AWS S3 (${options.region ?? 'us-east-1'})`;
    this.prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.location = `s3://${this.bucket}${this.prefix === '' ? '' : `/${this.prefix}`}`;
    this.client = new (s3().S3Client)({
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      region: options.region ?? 'us-east-1',
      forcePathStyle: true,
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      maxAttempts: options.maxAttempts ?? 5,
      retryMode: 'standard',
    });
  }

  private fullKey(key: string): string {
    checkKey(key);
    return this.prefix === '' ? key : `${this.prefix}/${key}`;
  }

  /** Runs one request; a failure of the service itself becomes a ServiceError naming the endpoint. */
  private async request<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (isNotFound(err)) throw err;
      throw classifyS3Failure(err, this.endpoint, this.location) ?? err;
    }
  }

  async put(key: string, body: Uint8Array | string, contentType?: string): Promise<void> {
    await this.request(() => this.client.send(
      new (s3().PutObjectCommand)({
        Bucket: this.bucket,
        Key: this.fullKey(key),
        Body: toBytes(body),
        ContentType: contentType ?? 'application/octet-stream',
      }),
    ));
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      return await this.request(async () => {
        const out = await this.client.send(new (s3().GetObjectCommand)({ Bucket: this.bucket, Key: this.fullKey(key) }));
        return out.Body === undefined ? new Uint8Array(0) : await out.Body.transformToByteArray();
      });
    } catch (err) {
      if (isNotFound(err)) throw new ObjectNotFoundError(this.location, key, { cause: err });
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.request(() => this.client.send(new (s3().HeadObjectCommand)({ Bucket: this.bucket, Key: this.fullKey(key) })));
      return true;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.checkBucket();
      return false;
    }
  }

  private bucketChecked: Promise<void> | undefined;

  /**
   * A HEAD answers 404 without saying whether the object or the whole bucket is missing: the first
   * miss asks for the bucket once, so a mistyped bucket is reported as such, not as a missing run.
   */
  private async checkBucket(): Promise<void> {
    this.bucketChecked ??= this.client.send(new (s3().HeadBucketCommand)({ Bucket: this.bucket })).then(
      () => undefined,
      (err: unknown) => {
        this.bucketChecked = undefined;
        if (isNotFound(err) || (err as { name?: string }).name === 'NoSuchBucket') {
          throw new ServiceError('storage', 'bucket-missing', this.endpoint, bucketMissing(this.location, this.endpoint), { cause: err });
        }
        // Anything else (a key allowed objects but not the bucket, say) leaves the object's 404 standing.
      },
    );
    await this.bucketChecked;
  }

  /** The keys under `prefix` one ListObjectsV2 page (up to 1,000 keys) at a time, in S3's UTF-8 byte order. */
  async *listPages(prefix: string): AsyncGenerator<string[]> {
    const base = this.prefix === '' ? '' : `${this.prefix}/`;
    let token: string | undefined;
    do {
      const out = await this.request(() =>
        this.client.send(new (s3().ListObjectsV2Command)({ Bucket: this.bucket, Prefix: base + prefix, ContinuationToken: token })),
      );
      yield (out.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [object.Key.slice(base.length)]));
      token = out.IsTruncated === true ? out.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const page of this.listPages(prefix)) keys.push(...page);
    return keys.sort();
  }

  async listFolders(folder: string): Promise<string[]> {
    const base = (this.prefix === '' ? '' : `${this.prefix}/`) + folder;
    const names: string[] = [];
    let token: string | undefined;
    do {
      const out = await this.request(() =>
        this.client.send(new (s3().ListObjectsV2Command)({ Bucket: this.bucket, Prefix: base, Delimiter: '/', ContinuationToken: token })),
      );
      for (const p of out.CommonPrefixes ?? []) {
        if (p.Prefix !== undefined) names.push(p.Prefix.slice(base.length).replace(/\/$/, ''));
      }
      token = out.IsTruncated === true ? out.NextContinuationToken : undefined;
    } while (token !== undefined);
    return names.sort();
  }

  async delete(key: string): Promise<void> {
    await this.request(() => this.client.send(new (s3().DeleteObjectCommand)({ Bucket: this.bucket, Key: this.fullKey(key) })));
  }
}

function isNotFound(err: unknown): boolean {
  if (sdk && err instanceof sdk.S3ServiceException) {
    // A missing bucket is a 404 too, but not a missing object: it is a ServiceError.
    return err.name !== 'NoSuchBucket' && (err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata.httpStatusCode === 404);
  }
  return false;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED']);
const CREDENTIAL_CODES = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'InvalidToken', 'ExpiredToken', 'CredentialsProviderError']);

const bucketMissing = (location: string, endpoint: string) => `storage bucket missing: ${location} does not exist at ${endpoint}; create the bucket or check the store's bucket name`;

/**
 * What an S3 client failure says about the service: unreachable (network, timeouts, 5xx after the
 * client's own retries), credentials refused or the bucket missing; null for anything else. The
 * message names the endpoint and the store, never the keys.
 */
export function classifyS3Failure(err: unknown, endpoint: string, location: string): ServiceError | null {
  const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  const name = e?.name ?? '';
  const code = e?.code ?? (err instanceof Error && 'cause' in err ? (err.cause as { code?: string } | undefined)?.code : undefined) ?? '';
  const label = code || name;
  // "connect ECONNREFUSED 127.0.0.1:1" already names its code.
  const detail = e?.message && e.message !== label ? (label !== '' && !e.message.includes(label) ? `${label} ${e.message}` : e.message) : label;
  if (name === 'NoSuchBucket') {
    return new ServiceError('storage', 'bucket-missing', endpoint, bucketMissing(location, endpoint), { cause: err });
  }
  if (CREDENTIAL_CODES.has(name) || status === 403) {
    return new ServiceError('storage', 'credentials', endpoint, `storage credentials refused by ${endpoint} for ${location} (${name || status}); check FIBERSCOPE_S3_ACCESS_KEY and FIBERSCOPE_S3_SECRET_KEY (or the AWS credentials in use)`, { cause: err });
  }
  if (NETWORK_CODES.has(code) || name === 'TimeoutError' || (status !== undefined && status >= 500)) {
    return new ServiceError('storage', 'unreachable', endpoint, `storage unreachable at ${endpoint} (${location}): ${status !== undefined && status >= 500 ? `answered ${status} ${name}` : detail}; check that the S3 server runs and FIBERSCOPE_S3_ENDPOINT points at it`, { cause: err });
  }
  return null;
}

/**
 * The S3 client settings that `openStore` reads from the environment: the FIBERSCOPE_S3_* variables
 * (printed by `infra/services.sh env`), each falling back to the standard AWS one when unset
 * (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, AWS_REGION or AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID with
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN); with no keys at all, the AWS SDK's credential chain.
 */
export function s3SettingsFromEnv(env: NodeJS.ProcessEnv = process.env): Omit<S3StoreOptions, 'bucket' | 'prefix'> {
  const pair = (idName: string, secretName: string) => {
    const accessKeyId = env[idName] || undefined;
    const secretAccessKey = env[secretName] || undefined;
    if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
      throw new InputError(`${idName}/${secretName}`, 'expected both set, or neither');
    }
    return accessKeyId === undefined || secretAccessKey === undefined ? undefined : { accessKeyId, secretAccessKey };
  };
  const fiberscope = pair('FIBERSCOPE_S3_ACCESS_KEY', 'FIBERSCOPE_S3_SECRET_KEY');
  const aws = pair('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY');
  const credentials = fiberscope ?? (aws && env.AWS_SESSION_TOKEN ? { ...aws, sessionToken: env.AWS_SESSION_TOKEN } : aws);
  const endpoint = env.FIBERSCOPE_S3_ENDPOINT || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL;
  return {
    ...(endpoint ? { endpoint } : {}),
    region: env.FIBERSCOPE_S3_REGION || env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    ...(credentials === undefined ? {} : { credentials }),
  };
}

/**
 * Opens a store from a user's spec: a folder path or `file://` URL gives a FileStore, `s3://bucket/prefix`
 * an S3Store whose endpoint, region and credentials come from the environment (`s3SettingsFromEnv`).
 */
export function openStore(spec: string, env: NodeJS.ProcessEnv = process.env): ObjectStore {
  if (spec.trim() === '') throw new InputError('store', 'expected a folder path, a file:// URL or s3://bucket/prefix');
  if (spec.startsWith('s3://')) {
    const rest = spec.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new InputError('store', `expected s3://bucket/prefix with a valid bucket name, got '${spec}'`);
    }
    if (prefix !== '') checkKey(prefix);
    return new S3Store({ bucket, prefix, ...s3SettingsFromEnv(env) });
  }
  if (spec.startsWith('file://')) return new FileStore(fileURLToPath(spec));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    throw new InputError('store', `expected a folder path, a file:// URL or s3://bucket/prefix, got '${spec}'`);
  }
  return new FileStore(spec);
}

/**
 * The bytes of one object named by a path or an `s3://bucket/key` URI (a query image, say): a missing
 * one is an InputError naming `input`; a service failure stays the ServiceError naming the endpoint.
 */
export async function readObjectAt(uri: string, input: string, env: NodeJS.ProcessEnv = process.env): Promise<Uint8Array> {
  const cut = uri.replace(/\/+$/, '').lastIndexOf('/');
  const [folder, key] = cut < 0 ? ['.', uri] : [uri.slice(0, cut) || '/', uri.slice(cut + 1)];
  if (uri.startsWith('s3://') && folder === 's3:/') throw new InputError(input, `expected s3://bucket/key, got '${uri}'`);
  try {
    return await openStore(folder, env).get(key);
  } catch (err) {
    if (err instanceof ObjectNotFoundError || isErrno(err, 'ENOENT') || isErrno(err, 'EISDIR') || isErrno(err, 'ENOTDIR')) {
      throw new InputError(input, `cannot read '${uri}': no such ${uri.startsWith('s3://') ? 'object' : 'file'}`, { cause: err });
    }
    throw err;
  }
}

