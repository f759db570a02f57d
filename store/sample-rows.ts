/**
 * The sample-row model: schema version, the row type and the error row. Kept apart from the Arrow
 * codec in tables.ts so that code handling rows (the sampler's results, run manifests) does not
 * load Arrow.
 */

/**
 * Version of the sample-row schema, written to the table metadata and the run manifest. Columns are
 * added, never renamed or retyped: readers accept newer tables and ignore columns they do not know.
 */
export const SCHEMA_VERSION = 1;
export const SCHEMA_VERSION_KEY = 'fiberscope.schema_version';

/**
 * One fiber sample of one query image: a row of a shard table (and of `samples.arrow`).
 * Numeric results are null on error rows; `probes` holds one RMS distance per configured probe,
 * stored as `probe_<name>` columns.
 */
export interface SampleRow {
  run_id: string;
  image_id: string;
  sample_index: number;
  /** A uint64 seed as a decimal string (JavaScript numbers cannot hold every uint64). */
  seed: string;
  /** Guidance variant that produced the sample (`ndtm`, `ndtm-static-target`, `dps`…). */
  variant: string;
  prior_id: string;
  extractor_id: string;
  status: 'ok' | 'error';
  /** Why the sample failed; null when ok. */
  error: string | null;
  /** Optimised terminal cost. */
  cost: number | null;
  /** The extractor's reported fiber metric, named by `fiber_metric_name`. */
  fiber_metric: number | null;
  fiber_metric_name: string;
  /** RMS distance to the query in the prior's range. */
  pixel_distance: number | null;
  probes: Record<string, number | null>;
  /** The probe closest to the sample, or `none` when the query itself is closer; null on error rows. */
  nearest_probe: string | null;
  steps: number | null;
  inner_steps: number | null;
  nfe_denoiser: number | null;
  nfe_extractor: number | null;
  seconds: number | null;
  /** Store key of the sample's PNG; null when no image was written. */
  image_key: string | null;
}

export type SampleStatus = SampleRow['status'];

/** The columns every row of a run shares. */
export type RowBase = Pick<SampleRow, 'run_id' | 'seed' | 'variant' | 'prior_id' | 'extractor_id' | 'fiber_metric_name'>;

/** A sample that was not produced: status `error`, the reason, every measurement null. */
export function failedSampleRow(base: RowBase, imageId: string, sampleIndex: number, error: string): SampleRow {
  return {
    ...base,
    image_id: imageId,
    sample_index: sampleIndex,
    status: 'error',
    error,
    cost: null,
    fiber_metric: null,
    pixel_distance: null,
    probes: {},
    nearest_probe: null,
    steps: null,
    inner_steps: null,
    nfe_denoiser: null,
    nfe_extractor: null,
    seconds: null,
    image_key: null,
  };
}
