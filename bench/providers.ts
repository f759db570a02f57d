/**
 * Which execution providers load here: each of cpu, cuda, webgpu gets a session of a one-node
 * model through engine/runtime and one run. Prints a line per provider and, last, `best NAME`
 * (cuda, else webgpu, else cpu), which bench/gpu.sh reads.
 *
 *   node --import tsx bench/providers.ts
 */
import { DataType, GraphBuilder, emptyModel } from '../engine/onnx/index.ts';
import { PROVIDERS, closeSessions, openSession, tensor } from '../engine/runtime/index.ts';
import type { Provider } from '../engine/runtime/index.ts';

const model = emptyModel(
  'providers',
  17,
  [{ name: 'x', dataType: DataType.float32, shape: [2] }],
  [{ name: 'y', dataType: DataType.float32, shape: [2] }],
);
GraphBuilder.forModel(model).op('Mul', ['x', 'x'], undefined, 'y');

const loaded: Provider[] = [];
for (const provider of PROVIDERS) {
  try {
    const s = await openSession(model, { provider }, `${provider} probe`);
    const y = (await s.run({ x: tensor('float32', [2], [2, 3]) }))['y']!.data;
    if (y[0] !== 4 || y[1] !== 9) throw new Error(`wrong result ${[...y].join(', ')}`);
    loaded.push(provider);
    console.log(`${provider}: loads and runs`);
  } catch (err) {
    console.log(`${provider}: not available (${(err as Error).message.split('\n')[0]})`);
  }
}
await closeSessions();
console.log(`best ${(['cuda', 'webgpu', 'cpu'] as const).find((p) => loaded.includes(p)) ?? 'none'}`);
