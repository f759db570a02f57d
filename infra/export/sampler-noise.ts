/**
 * Writes the standard normal draws fiberscope's sampler makes for one query's samples, so that the
 * PyTorch NDTM reference (infra/export/ndtm_reference.py) is fed exactly the same noise:
 *   x_T.npy [K, ...state], target.npy and update.npy [steps, K, ...state] (loop index i = 0 noisiest).
 *
 *   node --import tsx infra/export/sampler-noise.ts OUT --seed 7 --image-id query --samples 0,1,2 \
 *     --shape 1,16,16 --steps 8
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sizeOf } from '../../engine/guidance/objective.ts';
import { drawNoise } from '../../engine/guidance/sampler.ts';
import type { DrawOwner } from '../../engine/random/philox.ts';
import { writeNpy } from '../../store/npy.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seed: { type: 'string' },
    'image-id': { type: 'string' },
    samples: { type: 'string' },
    shape: { type: 'string' },
    steps: { type: 'string' },
  },
});
const out = positionals[0];
if (!out || !values.seed || !values['image-id'] || !values.samples || !values.shape || !values.steps) {
  console.error('usage: sampler-noise.ts OUT --seed S --image-id ID --samples 0,1 --shape C,H,W --steps N');
  process.exit(2);
}
const shape = values.shape.split(',').map(Number);
const steps = Number(values.steps);
const owners: DrawOwner[] = values.samples.split(',').map((k) => ({
  seed: BigInt(values.seed!),
  imageId: values['image-id']!,
  sampleIndex: Number(k),
}));
const D = sizeOf(shape);
const K = owners.length;
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'x_T.npy'), writeNpy(drawNoise(owners, 'x_T', 0, D), [K, ...shape]));
for (const stream of ['target', 'update'] as const) {
  const all = new Float32Array(steps * K * D);
  for (let i = 0; i < steps; i++) all.set(drawNoise(owners, stream, i, D), i * K * D);
  writeFileSync(join(out, `${stream}.npy`), writeNpy(all, [steps, K, ...shape]));
}
