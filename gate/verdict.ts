/**
 * The gate's verdict (`gate.json`, CONTRACTS H): what `fiberscope check` prints in every format and
 * records in the candidate run, and what the report and dashboard render.
 */

export type FindingKind = 'probe' | 'metric' | 'errors';
export type Direction = 'started' | 'stopped' | 'up' | 'down' | 'same';

export interface Finding {
  kind: FindingKind;
  /** A probe name, `fiber_to_neighbour_ratio`, or `error_share`. */
  name: string;
  /** The run-level figure compared: mean per-image share (probes, errors) or median ratio (metric). */
  baseline: number;
  candidate: number;
  /** Probes and errors: candidate − baseline share; metric: relative change of the median paired ratio. */
  effect: number;
  pValue: number;
  /** Holm-adjusted over every finding of the verdict. */
  adjustedP: number;
  regression: boolean;
  direction: Direction;
  /** Images with a non-zero paired difference (the test's sample size). */
  pairs: number;
  message: string;
}

export interface WorstImage {
  imageId: string;
  /** Total variation distance between the image's nearest-probe profiles in the two runs (0..1). */
  change: number;
  /** The image's nearest-probe profile in each run: probe → share of its samples. */
  baselineProfile: Record<string, number>;
  candidateProfile: Record<string, number>;
  /** Store keys of the image's sample PNGs, relative to each run's store root. */
  baselineImages: string[];
  candidateImages: string[];
}

export interface RunRef {
  runId: string;
  extractor: string;
  /** The run folder (file:// or s3:// URI). */
  location: string;
  /** The store holding the run: image keys are relative to it. */
  store: string;
  seed: string;
}

export interface GateVerdict {
  version: 1;
  verdict: 'pass' | 'regression';
  baseline: RunRef;
  candidate: RunRef;
  createdAt: string;
  /** Images both runs share, compared in pairs. */
  images: number;
  alpha: number;
  /** Smallest change of a probe's (or the error) share that can fail the gate. */
  minEffect: number;
  /** Smallest relative change of the fiber-to-neighbour ratio that can fail the gate. */
  minRatioChange: number;
  findings: Finding[];
  worstImages: WorstImage[];
}

export interface GateOptions {
  /** Family-wise error rate across all probes and metrics (Holm). */
  alpha: number;
  minEffect: number;
  minRatioChange: number;
  /** Worst images listed in the verdict. */
  worst: number;
}

export const GATE_DEFAULTS: GateOptions = { alpha: 0.01, minEffect: 0.1, minRatioChange: 0.25, worst: 5 };
