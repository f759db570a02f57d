/**
 * Environment fallbacks of CLI options, owned here rather than by a global prefix: the FIBERSCOPE_*
 * namespace also carries service settings (FIBERSCOPE_S3_*, FIBERSCOPE_TEMPORAL_*) that are not flags.
 */
export const envDefaults = {
  /** Where run folders go: FIBERSCOPE_STORE (a folder or s3://bucket/prefix), else ./fiberscope-runs. */
  store: (env: NodeJS.ProcessEnv = process.env) => env.FIBERSCOPE_STORE || 'fiberscope-runs',
  /** ONNX Runtime execution provider: FIBERSCOPE_PROVIDER, else cpu. */
  provider: (env: NodeJS.ProcessEnv = process.env) => env.FIBERSCOPE_PROVIDER || 'cpu',
};
