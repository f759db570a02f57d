import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { InputError, NotAvailableError } from '../errors.ts';
import { encodeModel } from '../onnx/model.ts';
import { DataType, cloneModel } from '../onnx/ir.ts';
import type { Model } from '../onnx/ir.ts';
import type { SessionCacheEntry } from './session-cache.ts';
import {
  commitEntry,
  dropEntry,
  fileModelId,
  partialEntry,
  saveEntries,
  sessionCacheEntry,
  touchEntry,
} from './session-cache.ts';

/**
 * The one module that imports onnxruntime-node: providers, sessions (cached per process, since
 * session churn leaks memory in onnxruntime-node), tensors and validated runs.
 */

export type Provider = 'cpu' | 'cuda' | 'webgpu';
export const PROVIDERS: readonly Provider[] = ['cpu', 'cuda', 'webgpu'];

export interface RuntimeOptions {
  /** Execution provider; default cpu. */
  provider?: Provider;
  /** Threads inside one op (default: onnxruntime's choice). */
  intraOpThreads?: number;
  /** Threads across independent ops (default 1). */
  interOpThreads?: number;
  /**
   * onnxruntime's CPU memory arena (default on). Each session's arena keeps its largest run's
   * memory for good; off, memory goes back after every run, so a process holding several
   * sessions peaks at the largest run rather than the sum of them, for a little time per run.
   */
  memoryArena?: boolean;
  /**
   * Whether idle intra-op threads spin waiting for work (default on, onnxruntime's default). Off
   * suits machines shared with other processes, where spinning threads take cores from them.
   */
  spinning?: boolean;
  /**
   * A folder for onnxruntime's optimized form of each model (CPU provider only; see
   * session-cache.ts): a later process opens the same model without graph optimization or weight
   * pre-packing. Unset: nothing is kept.
   */
  sessionCache?: string;
}

export type TensorType = 'float32' | 'float64' | 'int64';

export interface HostTensor {
  type: TensorType;
  dims: readonly number[];
  data: Float32Array | Float64Array | BigInt64Array;
}

export interface IOInfo {
  name: string;
  /** onnxruntime's type name (float32, float64, int64, ...), or 'non-tensor'. */
  type: string;
  /** Declared dims: numbers, symbolic names, or -1/'' where unknown. */
  dims: readonly (number | string)[];
}

const ONNX_TYPE: Record<TensorType, number> = {
  float32: DataType.float32,
  float64: DataType.float64,
  int64: DataType.int64,
};

export function tensor(type: 'float32', dims: readonly number[], data?: Float32Array | readonly number[]): HostTensor;
export function tensor(type: 'float64', dims: readonly number[], data?: Float64Array | readonly number[]): HostTensor;
export function tensor(type: 'int64', dims: readonly number[], data?: BigInt64Array | readonly number[]): HostTensor;
export function tensor(
  type: TensorType,
  dims: readonly number[],
  data?: Float32Array | Float64Array | BigInt64Array | readonly number[],
): HostTensor;
export function tensor(
  type: TensorType,
  dims: readonly number[],
  data?: Float32Array | Float64Array | BigInt64Array | readonly number[],
): HostTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  let typed: Float32Array | Float64Array | BigInt64Array;
  if (data === undefined)
    typed = type === 'float32' ? new Float32Array(n) : type === 'float64' ? new Float64Array(n) : new BigInt64Array(n);
  else if (Array.isArray(data))
    typed =
      type === 'float32'
        ? Float32Array.from(data)
        : type === 'float64'
          ? Float64Array.from(data)
          : BigInt64Array.from(data.map((v) => BigInt(v)));
  else typed = data as Float32Array | Float64Array | BigInt64Array;
  if (typed.length !== n)
    throw new InputError('tensor', `${typed.length} values for dims [${dims.join(', ')}] (${n} expected)`);
  return { type, dims: [...dims], data: typed };
}

export function tensorTypeOf(dataType: number): TensorType | undefined {
  return (Object.entries(ONNX_TYPE) as [TensorType, number][]).find(([, v]) => v === dataType)?.[0];
}

function describe(t: { type: string; dims: readonly (number | string)[] }): string {
  return `${t.type}[${t.dims.join(', ')}]`;
}

function backendAvailable(provider: Provider): boolean {
  return ort.listSupportedBackends().some((b) => b.name === provider);
}

function sessionOptions(o: RuntimeOptions): ort.InferenceSession.SessionOptions {
  const provider = o.provider ?? 'cpu';
  if (!PROVIDERS.includes(provider))
    throw new InputError('provider', `'${String(provider)}' is not one of ${PROVIDERS.join(', ')}`);
  if (provider !== 'cpu' && !backendAvailable(provider)) {
    throw new NotAvailableError(
      `execution provider '${provider}' is not available in this onnxruntime-node build (available: ${ort
        .listSupportedBackends()
        .map((b) => b.name)
        .join(', ')}); install its libraries or use --provider cpu`,
    );
  }
  return {
    executionProviders: [provider],
    ...(o.intraOpThreads ? { intraOpNumThreads: o.intraOpThreads } : {}),
    interOpNumThreads: o.interOpThreads ?? 1,
    enableCpuMemArena: o.memoryArena ?? true,
    // onnxruntime's memory pattern plans a run's buffers from the first run and then allocates that
    // plan as one block on top of what the arena already holds: a gradient session's memory nearly
    // doubles on its second run (NDTM cost graph, UNet + ResNet-18, K = 4: 805 → 1148 MiB) for no
    // measurable speed (median cost-gradient time equal within noise over 10 runs).
    enableMemPattern: false,
    ...(o.spinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  };
}

/** A loaded model: validated runs by name, with host tensors in and out. */
export class ModelSession {
  readonly inputs: readonly IOInfo[];
  readonly outputs: readonly IOInfo[];

  constructor(
    private readonly session: ort.InferenceSession,
    private readonly label: string,
  ) {
    const info = (m: readonly ort.InferenceSession.ValueMetadata[]): IOInfo[] =>
      m.map((v) =>
        v.isTensor
          ? { name: v.name, type: v.type, dims: v.shape.map((d) => (d === undefined ? -1 : d)) }
          : { name: v.name, type: 'non-tensor', dims: [] },
      );
    this.inputs = info(session.inputMetadata);
    this.outputs = info(session.outputMetadata);
  }

  /** Checks every feed against the model before running; one error lists every problem found. */
  validate(feeds: Readonly<Record<string, HostTensor>>, outputNames?: readonly string[]): void {
    const problems: string[] = [];
    const expected = new Map(this.inputs.map((i) => [i.name, i]));
    const missing = this.inputs.filter((i) => !(i.name in feeds)).map((i) => `${i.name}: ${describe(i)}`);
    if (missing.length) problems.push(`missing inputs ${missing.join('; ')}`);
    const unknown = Object.keys(feeds).filter((n) => !expected.has(n));
    if (unknown.length)
      problems.push(
        `unknown inputs ${unknown.join(', ')} (model inputs: ${this.inputs.map((i) => i.name).join(', ')})`,
      );
    for (const [name, t] of Object.entries(feeds)) {
      const want = expected.get(name);
      if (!want) continue;
      if (want.type !== t.type) problems.push(`${name}: got ${describe(t)}, expected ${describe(want)}`);
      // onnxruntime reports an undeclared shape as [], the same as a scalar's: only declared ranks are checked.
      else if (
        (want.dims.length > 0 && want.dims.length !== t.dims.length) ||
        want.dims.some((d, i) => typeof d === 'number' && d >= 0 && d !== t.dims[i])
      ) {
        problems.push(`${name}: got ${describe(t)}, expected ${describe(want)}`);
      }
    }
    const outs = new Set(this.outputs.map((o) => o.name));
    const badOut = (outputNames ?? []).filter((n) => !outs.has(n));
    if (badOut.length) problems.push(`unknown outputs ${badOut.join(', ')} (model outputs: ${[...outs].join(', ')})`);
    if (problems.length) throw new InputError(this.label, problems.join('\n  '));
  }

  async run(
    feeds: Readonly<Record<string, HostTensor>>,
    outputNames?: readonly string[],
  ): Promise<Record<string, HostTensor>> {
    this.validate(feeds, outputNames);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.type, t.data, t.dims);
    const result = outputNames ? await this.session.run(ortFeeds, outputNames) : await this.session.run(ortFeeds);
    const out: Record<string, HostTensor> = {};
    for (const [name, v] of Object.entries(result)) {
      const type = v.type as string;
      if (type !== 'float32' && type !== 'float64' && type !== 'int64') {
        throw new InputError(name, `output of type ${type}; fiberscope reads float32, float64 and int64 tensors`);
      }
      out[name] = { type, dims: [...v.dims], data: v.data as Float32Array | Float64Array | BigInt64Array };
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

const cache = new Map<string, Promise<ModelSession>>();

/** The content id of a model source: its bytes' hash, or the path of a file. */
function sourceId(source: Uint8Array | string): string {
  return typeof source === 'string' ? `path:${source}` : `sha256:${createHash('sha256').update(source).digest('hex')}`;
}

function cacheKey(id: string, o: RuntimeOptions): string {
  return `${o.provider ?? 'cpu'}|${o.intraOpThreads ?? 0}|${o.interOpThreads ?? 1}|${o.memoryArena ?? true}|${o.spinning ?? true}|${id}`;
}

/** onnxruntime's session options plus the config entries of `extra`. */
function withEntries(
  options: ort.InferenceSession.SessionOptions,
  entries: Record<string, string>,
): ort.InferenceSession.SessionOptions {
  const extra = (options.extra ?? {}) as { session?: Record<string, unknown> };
  return { ...options, extra: { ...extra, session: { ...(extra.session ?? {}), ...entries } } };
}

async function createOrt(
  source: Uint8Array | string,
  options: ort.InferenceSession.SessionOptions,
): Promise<ort.InferenceSession> {
  return typeof source === 'string'
    ? ort.InferenceSession.create(source, options)
    : ort.InferenceSession.create(source, options);
}

/**
 * Opens through the session cache: the saved optimized form when there is one, else the model
 * itself, saving its optimized form on the way.
 */
async function createCached(
  source: Uint8Array | string,
  options: ort.InferenceSession.SessionOptions,
  folder: string,
  id: string,
): Promise<ort.InferenceSession> {
  const modelId = typeof source === 'string' ? fileModelId(source) : id;
  const entry = sessionCacheEntry(folder, modelId, options, ort.env.versions.common ?? 'unknown');
  if (existsSync(entry.file)) {
    try {
      const s = await ort.InferenceSession.create(entry.file, { ...options, graphOptimizationLevel: 'disabled' });
      touchEntry(entry);
      return s;
    } catch {
      dropEntry(entry);
    }
  }
  let partial: SessionCacheEntry | undefined;
  try {
    partial = partialEntry(entry);
  } catch {
    // An unwritable cache folder: open without saving.
    return createOrt(source, options);
  }
  try {
    const s = await createOrt(source, withEntries({ ...options, optimizedModelFilePath: partial.file }, saveEntries()));
    commitEntry(partial, entry);
    return s;
  } catch (err) {
    dropEntry(partial);
    throw err;
  }
}

async function create(source: Uint8Array | string, o: RuntimeOptions, label: string, id: string): Promise<ModelSession> {
  const options = sessionOptions(o);
  try {
    const s =
      o.sessionCache && (o.provider ?? 'cpu') === 'cpu'
        ? await createCached(source, options, o.sessionCache, id)
        : await createOrt(source, options);
    return new ModelSession(s, label);
  } catch (err) {
    const message = (err as Error).message;
    if ((o.provider ?? 'cpu') !== 'cpu' && /provider|cuda|webgpu|dlopen|\.so/i.test(message)) {
      throw new NotAvailableError(
        `execution provider '${o.provider}' failed to start (${message}); install its libraries or use --provider cpu`,
      );
    }
    throw new InputError(label, `onnxruntime cannot load this model: ${message}`, { cause: err });
  }
}

/**
 * The process-wide session for a model (bytes, a path or an IR model), created on first use and
 * reused after. Equal bytes share one session.
 */
export function openSession(
  source: Uint8Array | string | Model,
  options: RuntimeOptions = {},
  label = 'model',
): Promise<ModelSession> {
  const src = typeof source === 'string' || source instanceof Uint8Array ? source : encodeModel(source);
  const id = sourceId(src);
  const key = cacheKey(id, options);
  let s = cache.get(key);
  if (!s) {
    s = create(src, options, typeof source === 'string' ? source : label, id);
    cache.set(key, s);
    s.catch(() => cache.delete(key));
  }
  return s;
}

/** Sessions open in this process (created or being created), for a worker's metrics. */
export function openSessionCount(): number {
  return cache.size;
}

/** Releases every cached session (tests and worker shutdown). */
export async function closeSessions(): Promise<void> {
  const all = [...cache.values()];
  cache.clear();
  for (const p of all) await (await p.catch(() => undefined))?.release();
}

export interface TensorShape {
  dataType: number;
  dims: number[];
}

export interface ResolveOptions extends RuntimeOptions {
  /**
   * Expose at most this many intermediates per forward run (default: all in one run). Lower it for
   * large models: each run then holds fewer activations at once, at the cost of more runs.
   */
  outputsPerRun?: number;
}

/**
 * Static dtype and dims of every tensor of a model for the given input shapes, found by running
 * it on zeros with intermediates exposed as outputs (on CPU, unoptimised). Data-dependent shapes
 * come out as they are for zeros.
 */
export async function resolveShapes(
  model: Model,
  inputDims: Readonly<Record<string, readonly number[]>>,
  options: ResolveOptions = {},
): Promise<Map<string, TensorShape>> {
  const g = model.graph;
  const inits = new Set(g.initializers.map((t) => t.name));
  const shapes = new Map<string, TensorShape>();
  for (const t of g.initializers) shapes.set(t.name, { dataType: t.dataType, dims: [...t.dims] });
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const v of g.inputs) {
    if (inits.has(v.name)) continue;
    const dims =
      inputDims[v.name] ?? (v.shape?.every((d) => typeof d === 'number') ? (v.shape as number[]) : undefined);
    if (!dims) throw new InputError(v.name, `input has dims [${(v.shape ?? []).join(', ')}]; give static dims for it`);
    const type = tensorTypeOf(v.dataType);
    if (!type) throw new InputError(v.name, `input type ${v.dataType} is not float32, float64 or int64`);
    const t = tensor(type, dims);
    ortFeeds[v.name] = new ort.Tensor(t.type, t.data, t.dims);
    shapes.set(v.name, { dataType: v.dataType, dims: [...dims] });
  }
  const declared = new Set(g.outputs.map((o) => o.name));
  const intermediates = [...new Set(g.nodes.flatMap((n) => n.outputs))].filter((o) => o && !declared.has(o));
  const per = Math.max(1, options.outputsPerRun ?? intermediates.length);
  const sessionOpts = {
    ...sessionOptions({ ...options, provider: 'cpu' }),
    graphOptimizationLevel: 'disabled' as const,
  };
  for (let start = 0; start === 0 || start < intermediates.length; start += per) {
    const m = cloneModel(model);
    m.graph.outputs.push(
      ...intermediates.slice(start, start + per).map((name) => ({ name, dataType: 0, shape: null })),
    );
    m.graph.valueInfo = [];
    const session = await ort.InferenceSession.create(encodeModel(m), sessionOpts);
    try {
      const result = await session.run(ortFeeds);
      for (const [name, v] of Object.entries(result))
        shapes.set(name, { dataType: ORT_TYPE[v.type as string] ?? 0, dims: [...v.dims] });
    } finally {
      await session.release();
    }
  }
  return shapes;
}

const ORT_TYPE: Record<string, number> = {
  float32: DataType.float32,
  float64: DataType.float64,
  int64: DataType.int64,
  int32: DataType.int32,
  bool: DataType.bool,
  uint8: DataType.uint8,
  int8: DataType.int8,
  float16: DataType.float16,
};
