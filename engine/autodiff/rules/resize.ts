import type { Node } from '../../onnx/ir.ts';
import { attrFloat, attrInt, attrInts, attrString } from '../../onnx/attributes.ts';
import type { OpRule, RuleContext } from '../rule.ts';
import { blockFactor, interpolationMatrix, resizeAdjoint } from '../interpolation.ts';
import { producedBy } from '../patterns.ts';
import type { AxisResize } from '../interpolation.ts';

/**
 * Per-axis resizes of a Resize node (the rule's own, or one upstream of another rule) from its
 * attributes, its scales or sizes input and the static shapes.
 */
function axisResizes(c: RuleContext, node: Node = c.node): Map<number, AxisResize> {
  const input = (i: number): string => node.inputs[i] ?? '';
  const x = input(0);
  const inDims = c.requireShape(x);
  const outDims = c.requireShape(node.outputs[0] ?? '');
  const rank = inDims.length;
  const mode = attrString(node, 'mode', 'nearest') as AxisResize['mode'];
  if (mode !== 'nearest' && mode !== 'linear' && mode !== 'cubic') c.fail(`mode '${mode}' is not supported`);
  const coordinates = attrString(node, 'coordinate_transformation_mode', 'half_pixel');
  if (coordinates === 'tf_crop_and_resize') c.fail('tf_crop_and_resize is not supported');
  const axes = (attrInts(node, 'axes') ?? Array.from({ length: rank }, (_, i) => i)).map((a) => (a + rank) % rank);
  const given = input(2) ? c.constValues(input(2)) : undefined;
  const sizes = input(3) ? c.constValues(input(3)) : undefined;
  // Scales as the runtime uses them: given ones, else output/input size (one shared factor under keep_aspect_ratio_policy).
  let scales = axes.map((a) => outDims[a]! / inDims[a]!);
  if (given && given.length > 0) scales = given;
  else if (input(2) && !given && !input(3))
    // The runtime interpolates with the scale itself, which output/input sizes only bound.
    c.fail('scales computed at run time are not supported; export with constant scales or sizes');
  else if (sizes && sizes.length > 0) {
    const ratios = axes.map((a, i) => sizes[i]! / inDims[a]!);
    const policy = attrString(node, 'keep_aspect_ratio_policy', 'stretch');
    if (policy === 'not_larger') scales = axes.map(() => Math.min(...ratios));
    else if (policy === 'not_smaller') scales = axes.map(() => Math.max(...ratios));
    else scales = ratios;
  } else if (attrString(node, 'keep_aspect_ratio_policy', 'stretch') !== 'stretch')
    c.fail('keep_aspect_ratio_policy needs constant sizes');
  if (attrInt(node, 'antialias', 0) === 1 && mode !== 'nearest' && scales.some((s) => s < 1))
    c.fail('antialiased downsampling is not supported');
  const out = new Map<number, AxisResize>();
  axes.forEach((axis, i) => {
    out.set(axis, {
      mode,
      coordinates,
      nearest: attrString(node, 'nearest_mode', 'round_prefer_floor'),
      cubicA: attrFloat(node, 'cubic_coeff_a', -0.75),
      excludeOutside: attrInt(node, 'exclude_outside', 0) === 1,
      scale: scales[i]!,
      inSize: inDims[axis]!,
      outSize: outDims[axis]!,
    });
  });
  return out;
}

/**
 * Whether `x` is the output of a nearest upsampling by whole blocks on the spatial axes only
 * (diffusers' Upsample2D and most decoders: Resize nearest ×2, then a Conv): the Resize's input
 * and the factor of each spatial axis (1 where unchanged); undefined for anything else, which the
 * Resize's own rule then differentiates (or refuses, with its message).
 */
export function blockUpsampling(c: RuleContext, x: string): { input: string; factors: number[] } | undefined {
  const node = producedBy(c, x, 'Resize');
  if (!node || attrString(node, 'mode', 'nearest') !== 'nearest' || !node.inputs[0]) return undefined;
  const factors = new Array<number>(c.rank(x)).fill(1);
  try {
    for (const [axis, r] of axisResizes(c, node)) {
      const f = blockFactor(interpolationMatrix(r, c.fail), r.outSize, r.inSize);
      if (f === undefined || (axis < 2 && f !== 1)) return undefined;
      factors[axis] = f;
    }
  } catch {
    return undefined;
  }
  return { input: node.inputs[0], factors: factors.slice(2) };
}

/**
 * y = resize(x) (opset 11+ input layout: x, roi, scales, sizes; axes and keep_aspect_ratio_policy
 * from 18): nearest, linear and cubic interpolation are linear maps separable by axis, so dx
 * applies each axis' transposed interpolation matrix, computed here from static shapes (nearest
 * upsampling by whole factors: a block sum instead).
 */
export const resize: OpRule = {
  op: 'Resize',
  differentiable: [0],
  versions: [
    {
      since: 11,
      vjp: (c) => c.setDx(0, resizeAdjoint(c, c.dy()!, c.input(0), axisResizes(c))),
    },
  ],
};
