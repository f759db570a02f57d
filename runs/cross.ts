/** `cross/<extractorId>.json`: the second model's view of the first model's fibers. */
export interface CrossSummary {
  version: 1;
  runId: string;
  /** The model whose fibers were sampled (the run's extractor) and the one that embeds them. */
  fibersOf: { id: string; fingerprints: Record<string, string> };
  extractor: { id: string; fingerprints: Record<string, string> };
  fiberMetricName: string;
  images: number;
  samples: number;
  overall: {
    fiberMetricMedian: number | null;
    nnBaselineMedian: number | null;
    /** Median over samples of (second model's fiber metric) / (its nearest-real-neighbour baseline). */
    ratioMedian: number | null;
    /** Share of samples the second model puts closer to the query than any other real image. */
    shareBelowBaseline: number | null;
  };
  /**
   * Per probe of the run (the transform each sample is nearest to): does the second model keep the
   * samples that express that invariance? A ratio above 1 for `hflip` means it tells mirrored images apart.
   */
  byProbe: { probe: string; samples: number; ratioMedian: number | null; shareBelowBaseline: number | null }[];
  /** Per image: the median ratio of its samples, worst (largest) first. */
  perImage: { imageId: string; ratioMedian: number | null; nnBaseline: number | null }[];
}
