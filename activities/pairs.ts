import { BundleError, InputError } from '../engine/errors.ts';
import { OnnxFiberObjective } from '../engine/guidance/compose.ts';
import { loadExtractorBundle, loadPriorBundle } from '../engine/priors/load.ts';
import type { RuntimeOptions } from '../engine/runtime/index.ts';
import { engineCaches, localBundle } from '../store/bundles.ts';
import type { BundleRef, RunConfig } from '../runs/manifest.ts';
import type { LoadedPair } from '../runs/fibers.ts';
import { fingerprintBundle } from './run.ts';
import type { PairLoader } from './sampling.ts';

/**
 * The bundle folder of `ref` on this machine, checked against the fingerprints the run recorded: a
 * worker whose copy is missing or differs must not sample under the run's name.
 */
async function checkedBundle(role: 'prior' | 'extractor', ref: BundleRef): Promise<string> {
  const input = `${role} bundle ${ref.path}`;
  try {
    const dir = await localBundle(ref.path);
    const found = (await fingerprintBundle(ref.path)).fingerprints;
    const differs = [...new Set([...Object.keys(found), ...Object.keys(ref.fingerprints)])].filter((f) => found[f] !== ref.fingerprints[f]).sort();
    if (differs.length > 0) {
      throw new BundleError(input, `differs on this worker from the bundle the run recorded (${differs.join(', ')}); give the workers the run's bundle, or start a new run`);
    }
    return dir;
  } catch (err) {
    if (err instanceof BundleError || !(err instanceof InputError || (err as { code?: string }).code === 'ENOENT')) throw err;
    throw new BundleError(input, `cannot be read on this worker: ${(err as Error).message}`, { cause: err });
  }
}

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
        const [priorDir, extractorDir] = await Promise.all([checkedBundle('prior', config.prior), checkedBundle('extractor', config.extractor)]);
        const [prior, extractor] = await Promise.all([loadPriorBundle(priorDir), loadExtractorBundle(extractorDir)]);
        const caches = engineCaches();
        const objective = await OnnxFiberObjective.create(prior, extractor, {
          runtime: {
            ...runtime,
            provider: config.provider as NonNullable<RuntimeOptions['provider']>,
            sessionCache: caches.sessions,
          },
          gradientCache: caches.gradients,
        });
        return { objective, metric: extractor.manifest.metric };
      })();
      hit.catch(() => cache.delete(key));
      cache.set(key, hit);
    }
    return hit;
  };
}
