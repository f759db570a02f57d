import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { deriveGradient } from '../../../engine/autodiff/derive.ts';
import { loadModel } from '../../../engine/onnx/index.ts';
import type { Model } from '../../../engine/onnx/index.ts';
import { openSession, tensor } from '../../../engine/runtime/index.ts';
import type { HostTensor } from '../../../engine/runtime/index.ts';
import { readNpy } from '../../../store/npy.ts';
import { relL2 } from '../../helpers/rel-l2.ts';

/**
 * Gradient parity with PyTorch on real exports (test/fixtures/parity, made by
 * infra/export/parity.py with both exporters): fiberscope's float32 gradient graph, run on ONNX
 * Runtime, against PyTorch autograd's float64 vector-Jacobian product for the same input and
 * cotangent. Passes at a relative L2 error of 1e-4, or within 1.5× PyTorch's own float32 error
 * where the model is ill-conditioned. The resize-* exports compute Resize sizes in the graph
 * (Shape → Gather/Slice → Concat → Resize) from runtime input sizes.
 */
const root = join(import.meta.dirname, '..', '..', 'fixtures', 'parity');

interface ParityCase {
  exporter: string;
  of: string;
  wrt: string;
  dims: number[];
  timestep?: { name: string; value: number };
  torchFloat32RelError: number;
}

async function gradientError(
  model: Model,
  c: ParityCase,
  dir: string,
): Promise<{ error: number; nodes: number; gradient: Model }> {
  const npy = (file: string) => readNpy(readFileSync(join(dir, file)), file);
  const x = npy('x.npy');
  const dy = npy('dy.npy');
  const reference = npy('vjp64.npy');
  const inputDims: Record<string, number[]> = { [c.wrt]: c.dims };
  const feeds: Record<string, HostTensor> = {
    [c.wrt]: tensor('float32', x.shape, x.data),
    [`d_${c.of}`]: tensor('float32', dy.shape, dy.data),
  };
  if (c.timestep) {
    inputDims[c.timestep.name] = [c.dims[0]!];
    feeds[c.timestep.name] = tensor('int64', [c.dims[0]!], new Array<number>(c.dims[0]!).fill(c.timestep.value));
  }
  const { model: gradient } = await deriveGradient(model, { of: c.of, wrt: [c.wrt], inputDims });
  const out = await (await openSession(gradient)).run(feeds, [`d_${c.wrt}`]);
  const dx = out[`d_${c.wrt}`]!;
  assert.deepEqual([...dx.dims], reference.shape);
  return { error: relL2(dx.data as Float32Array, reference.data), nodes: gradient.graph.nodes.length, gradient };
}

function check(name: string, error: number, c: ParityCase): void {
  const bound = Math.max(1e-4, 1.5 * c.torchFloat32RelError);
  assert.ok(error <= bound, `${name}: relative L2 error ${error.toExponential(2)} > ${bound.toExponential(2)}`);
}

const cases = readdirSync(root).sort();

test('every parity fixture is present with its model, tensors and case record', () => {
  assert.ok(cases.length >= 10, `expected at least 10 fixtures, found ${cases.length}`);
  for (const name of cases)
    for (const file of ['model.onnx', 'case.json', 'x.npy', 'dy.npy', 'vjp64.npy'])
      assert.ok(readdirSync(join(root, name)).includes(file), `${name}/${file}`);
  for (const exporter of ['legacy', 'dynamo'])
    assert.ok(
      cases.some((n) => n.startsWith('resize-') && n.endsWith(exporter)),
      `a resize fixture from the ${exporter} exporter`,
    );
});

for (const name of cases) {
  test(`gradient parity with PyTorch float64: ${name}`, async (t) => {
    const dir = join(root, name);
    const c = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as ParityCase;
    const { error, nodes } = await gradientError(loadModel(join(dir, 'model.onnx')), c, dir);
    t.diagnostic(
      `${c.exporter} export: relative L2 error ${error.toExponential(2)} (PyTorch float32: ${c.torchFloat32RelError.toExponential(2)}), ${nodes} gradient nodes`,
    );
    check(name, error, c);
  });
}

test('an in-graph-size Resize export whose nodes are out of order (as graph editors write them) differentiates alike', async () => {
  const name = 'resize-fpn-legacy';
  const dir = join(root, name);
  const c = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as ParityCase;
  const model = loadModel(join(dir, 'model.onnx'));
  // Every Resize moved behind the nodes that read it: ONNX Runtime runs such a graph; a sweep in list order would drop them.
  const resizes = model.graph.nodes.filter((n) => n.opType === 'Resize');
  assert.ok(resizes.length >= 3);
  model.graph.nodes = [...model.graph.nodes.filter((n) => n.opType !== 'Resize'), ...resizes];
  const { error, gradient } = await gradientError(model, c, dir);
  check(`${name} (out of order)`, error, c);
  const forwardResizes = gradient.graph.nodes.filter((n) => n.opType === 'Resize').length;
  assert.equal(forwardResizes, resizes.length, 'the gradient graph carries every forward Resize and its sizes');
});
