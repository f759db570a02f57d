import { join } from 'node:path';
import { OnnxFiberObjective } from '../engine/guidance/compose.ts';
import { loadExtractorBundle, loadPriorBundle } from '../engine/priors/load.ts';
import type { RuntimeOptions } from '../engine/runtime/index.ts';
import { cacheDir, localBundle } from '../store/bundles.ts';
import type { RunConfig } from '../runs/manifest.ts';
import type { LoadedPair } from '../runs/fibers.ts';
import type { PairLoader } from './sampling.ts';

/**
 * Loads (prior, extractor) pairs from bundle folders once per process and keeps them: sessions are
 * expensive to create and onnxruntime-node leaks memory when they churn. Keyed by the bundles'
 * fingerprints, so a changed bundle is never served from the cache.
 */
export function cachedPairLoader(runtime: RuntimeOptions = {}): PairLoader {
  const cache = new Map<string, Promise<LoadedPair>>();
  return (config: RunConfig) => {
    const key = JSON.stringify([config.prior.fingerprints, config.extractor.fingerprints, config.provider]);
    let hit = cache.get(key);
    if (!hit) {
      hit = (async () => {
        const [priorDir, extractorDir] = await Promise.all([localBundle(config.prior.path), localBundle(config.extractor.path)]);
        const [prior, extractor] = await Promise.all([loadPriorBundle(priorDir), loadExtractorBundle(extractorDir)]);
        const objective = await OnnxFiberObjective.create(prior, extractor, {
          runtime: { ...runtime, provider: config.provider as NonNullable<RuntimeOptions['provider']> },
          gradientCache: join(cacheDir(), 'gradients'),
        });
        return { objective, metric: extractor.manifest.metric };
      })();
      hit.catch(() => cache.delete(key));
      cache.set(key, hit);
    }
    return hit;
  };
}
