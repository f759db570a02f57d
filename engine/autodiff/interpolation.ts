import type { RuleContext } from './rule.ts';

/** How one axis of a Resize maps output positions back onto input positions. */
export interface AxisResize {
  mode: 'nearest' | 'linear' | 'cubic';
  coordinates: string;
  /** nearest_mode. */
  nearest: string;
  cubicA: number;
  excludeOutside: boolean;
  scale: number;
  inSize: number;
  outSize: number;
}

const f32 = Math.fround;

/** The input coordinate of output position x, in float32 arithmetic as onnxruntime computes it. */
function original(r: AxisResize, x: number, fail: (m: string) => never): number {
  const s = f32(r.scale);
  switch (r.coordinates) {
    case 'half_pixel':
      return f32(f32(f32(x + 0.5) / s) - 0.5);
    case 'pytorch_half_pixel':
      return r.outSize > 1 ? f32(f32(f32(x + 0.5) / s) - 0.5) : 0;
    case 'asymmetric':
      return f32(x / s);
    case 'tf_half_pixel_for_nn':
      return f32(f32(x + 0.5) / s);
    case 'align_corners':
      return r.outSize === 1 ? 0 : f32(f32(x * (r.inSize - 1)) / (r.outSize - 1));
    case 'half_pixel_symmetric': {
      const adjustment = f32(r.outSize / f32(s * r.inSize));
      const offset = f32(f32(r.inSize / 2) * f32(1 - adjustment));
      return f32(offset + f32(f32(f32(x + 0.5) / s) - 0.5));
    }
    default:
      return fail(`coordinate_transformation_mode '${r.coordinates}' is not supported`);
  }
}

function nearestIndex(r: AxisResize, v: number, fail: (m: string) => never): number {
  switch (r.nearest) {
    case 'round_prefer_floor':
      return v === Math.floor(v) + 0.5 ? Math.floor(v) : Math.round(v);
    case 'round_prefer_ceil':
      // Half away from zero, as C's round.
      return v < 0 ? -Math.round(-v) : Math.round(v);
    case 'floor':
      return Math.floor(v);
    case 'ceil':
      return Math.ceil(v);
    default:
      return fail(`nearest_mode '${r.nearest}' is not supported`);
  }
}

function cubicWeights(a: number, t: number): number[] {
  const at = (d: number): number => {
    const x = Math.abs(d);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
  };
  return [at(t + 1), at(t), at(1 - t), at(2 - t)];
}

/** The resize of one axis as a matrix A [outSize, inSize] (row-major): y = A x along that axis. */
export function interpolationMatrix(r: AxisResize, fail: (m: string) => never): Float64Array {
  const { inSize, outSize } = r;
  const a = new Float64Array(outSize * inSize);
  const clampIndex = (i: number): number => Math.min(Math.max(i, 0), inSize - 1);
  for (let o = 0; o < outSize; o++) {
    const v = original(r, o, fail);
    const row = o * inSize;
    if (r.mode === 'nearest') {
      a[row + clampIndex(nearestIndex(r, v, fail))] = 1;
    } else if (r.mode === 'linear') {
      const p = Math.min(Math.max(v, 0), inSize - 1);
      const i0 = Math.min(Math.floor(p), inSize - 1);
      const i1 = Math.min(i0 + 1, inSize - 1);
      const t = p - i0;
      a[row + i0] = a[row + i0]! + 1 - t;
      a[row + i1] = a[row + i1]! + t;
    } else {
      const i0 = Math.floor(v);
      const w = cubicWeights(r.cubicA, v - i0);
      let total = 0;
      w.forEach((wk, k) => {
        const i = i0 - 1 + k;
        if (r.excludeOutside && (i < 0 || i >= inSize)) w[k] = 0;
        else total += wk;
      });
      w.forEach((wk, k) => {
        const at = row + clampIndex(i0 - 1 + k);
        a[at] = a[at]! + (r.excludeOutside ? wk / total : wk);
      });
    }
  }
  return a;
}

function isIdentity(a: Float64Array, n: number, m: number): boolean {
  if (n !== m) return false;
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) if (a[i * m + j] !== (i === j ? 1 : 0)) return false;
  return true;
}

/** Whether output o reads input ⌊o / f⌋ for an integer factor f: nearest upsampling by whole blocks. */
export function blockFactor(a: Float64Array, n: number, m: number): number | undefined {
  if (n % m !== 0) return undefined;
  const f = n / m;
  for (let o = 0; o < n; o++) if (a[o * m + Math.floor(o / f)] !== 1) return undefined;
  return f;
}

/**
 * dx for y = resize(x) along the given per-axis resizes (axes not listed are unchanged): when
 * every resized axis is a whole-block nearest upsampling, dy is reshaped into blocks and summed;
 * otherwise each resized axis is contracted with its interpolation matrix by one MatMul (the
 * adjoint of a separable linear map is the product of the transposed per-axis maps).
 */
export function resizeAdjoint(
  c: RuleContext,
  dy: string,
  like: string,
  resizes: ReadonlyMap<number, AxisResize>,
): string {
  const b = c.b;
  const dtype = c.dtype(like);
  const rank = c.rank(like);
  const inDims = c.requireShape(like);
  const active: { axis: number; a: Float64Array; r: AxisResize }[] = [];
  for (const [axis, r] of [...resizes].sort((p, q) => p[0] - q[0])) {
    const a = interpolationMatrix(r, c.fail);
    if (!isIdentity(a, r.outSize, r.inSize)) active.push({ axis, a, r });
  }
  if (active.length === 0) return dy;
  const factors = active.map(({ a, r }) => blockFactor(a, r.outSize, r.inSize));
  if (factors.every((f) => f !== undefined)) {
    const blocked: number[] = [];
    const summed: number[] = [];
    for (let axis = 0; axis < rank; axis++) {
      const k = active.findIndex((e) => e.axis === axis);
      blocked.push(inDims[axis]!);
      if (k >= 0) {
        summed.push(blocked.length);
        blocked.push(factors[k]!);
      }
    }
    return b.reduceSum(b.op('Reshape', [dy, b.int64s(blocked, 'shape')]), summed, false);
  }
  let grad = dy;
  for (const { axis, a, r } of active) {
    if (axis === rank - 1) {
      grad = b.op('MatMul', [grad, b.constant(dtype, [r.outSize, r.inSize], a, 'resize_matrix')]);
    } else if (axis === rank - 2) {
      const t = new Float64Array(a.length);
      for (let o = 0; o < r.outSize; o++)
        for (let i = 0; i < r.inSize; i++) t[i * r.outSize + o] = a[o * r.inSize + i]!;
      grad = b.op('MatMul', [b.constant(dtype, [r.inSize, r.outSize], t, 'resize_matrix'), grad]);
    } else {
      const perm = Array.from({ length: rank }, (_, i) => i);
      perm[axis] = rank - 1;
      perm[rank - 1] = axis;
      const moved = b.op('Transpose', [grad], { perm });
      const product = b.op('MatMul', [moved, b.constant(dtype, [r.outSize, r.inSize], a, 'resize_matrix')]);
      grad = b.op('Transpose', [product], { perm });
    }
  }
  return grad;
}
