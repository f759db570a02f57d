/**
 * Named failure types. Every error a user can cause names the input and what was expected;
 * the CLI maps `InputError` to exit code 2, Temporal activities map it to a non-retryable failure.
 */
export class InputError extends Error {
  override readonly name: string = 'InputError';
  /** The input at fault: a flag, a file path, a manifest field, a node name. */
  readonly input: string;
  constructor(input: string, message: string, options?: { cause?: unknown }) {
    super(`${input}: ${message}`, options);
    this.input = input;
  }
}

/** A bundle that cannot be used as the run recorded it (missing, unreadable, changed since): bad input too. */
export class BundleError extends InputError {
  override readonly name = 'BundleError';
}

/** A feature that is planned but not built yet: refused with a clear message, never faked. */
export class NotAvailableError extends Error {
  override readonly name = 'NotAvailableError';
}

/** Which service failed, and how: what the user has to check differs for each. */
export type ServiceFailure = 'unreachable' | 'credentials' | 'bucket-missing' | 'namespace-missing';

/**
 * A service (the object store or Temporal) that did not do what was asked: unreachable at its
 * endpoint, credentials refused, bucket or namespace missing. Thrown where the client call fails;
 * the message names the endpoint and never the credentials.
 */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  readonly service: 'storage' | 'temporal';
  readonly failure: ServiceFailure;
  /** Where the service was asked: an S3 endpoint URL or a Temporal address. */
  readonly endpoint: string;
  constructor(service: 'storage' | 'temporal', failure: ServiceFailure, endpoint: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.service = service;
    this.failure = failure;
    this.endpoint = endpoint;
  }
  /** Unreachable may pass; a refused credential or a missing bucket fails the same way every time. */
  get transient(): boolean {
    return this.failure === 'unreachable';
  }
}

/** Temporal not answering at `address`: the message names the setting that points there. */
export function temporalUnreachable(address: string, cause: unknown, setting = 'FIBERSCOPE_TEMPORAL_ADDRESS'): ServiceError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new ServiceError('temporal', 'unreachable', address, `Temporal unreachable at ${address}: ${why}; check that the Temporal server runs and ${setting} points at it`, { cause });
}

/** The steps of an audit, in order; a failure names the one it stopped in. */
export type RunPhase = 'preparing' | 'sampling' | 'summarizing';

/**
 * A run that stopped before its summary: where (phase, shard) and, once the command that ran it has
 * looked, what is kept and the command that finishes it. The cause says why.
 */
export class RunFailedError extends Error {
  override readonly name = 'RunFailedError';
  readonly runId: string;
  readonly phase: RunPhase;
  readonly shard: string | undefined;
  constructor(at: { runId: string; phase: RunPhase; shard?: string }, options: { cause: unknown }) {
    super(`run ${at.runId} failed while ${at.phase}${at.shard === undefined ? '' : ` shard ${at.shard}`}`, options);
    this.runId = at.runId;
    this.phase = at.phase;
    this.shard = at.shard;
  }
}
