import { InputError } from '../engine/errors.ts';

/** Defaults match `infra/services.sh` (which prints the variables with `infra/services.sh env`). */
export const TEMPORAL_DEFAULTS = { address: '127.0.0.1:7233', namespace: 'default' } as const;

export interface TemporalSettings {
  address: string;
  namespace: string;
}

export function temporalSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  return {
    address: env.FIBERSCOPE_TEMPORAL_ADDRESS || TEMPORAL_DEFAULTS.address,
    namespace: env.FIBERSCOPE_TEMPORAL_NAMESPACE || TEMPORAL_DEFAULTS.namespace,
  };
}

/**
 * The store a worker writes to: FIBERSCOPE_STORE (a folder, file:// URL or s3://bucket/prefix), else the
 * bucket named by FIBERSCOPE_S3_BUCKET.
 */
export function storeSpecFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FIBERSCOPE_STORE) return env.FIBERSCOPE_STORE;
  if (env.FIBERSCOPE_S3_BUCKET) return `s3://${env.FIBERSCOPE_S3_BUCKET}`;
  throw new InputError('FIBERSCOPE_STORE', 'expected a folder, a file:// URL or s3://bucket/prefix (or FIBERSCOPE_S3_BUCKET)');
}
