import type { OpRule, RuleContext } from '../rule.ts';
import { resizeAdjoint } from '../interpolation.ts';
import type { AxisResize } from '../interpolation.ts';

/** Per-axis resizes of a Resize node from its attributes, its scales or sizes input and the static shapes. */
function axisResizes(c: RuleContext): Map<number, AxisResize> {
  const x = c.input(0);
  const inDims = c.requireShape(x);
  const outDims = c.requireShape(c.output(0));
  const rank = inDims.length;
  const mode = c.string('mode', 'nearest') as AxisResize['mode'];
  if (mode !== 'nearest' && mode !== 'linear' && mode !== 'cubic') c.fail(`mode '${mode}' is not supported`);
  const coordinates = c.string('coordinate_transformation_mode', 'half_pixel');
  if (coordinates === 'tf_crop_and_resize') c.fail('tf_crop_and_resize is not supported');
  const axes = (c.ints('axes') ?? Array.from({ length: rank }, (_, i) => i)).map((a) => (a + rank) % rank);
  const given = c.input(2) ? c.constValues(c.input(2)) : undefined;
  const sizes = c.input(3) ? c.constValues(c.input(3)) : undefined;
  // Scales as the runtime uses them: given ones, else output/input size (one shared factor under keep_aspect_ratio_policy).
  let scales = axes.map((a) => outDims[a]! / inDims[a]!);
  if (given && given.length > 0) scales = given;
  else if (c.input(2) && !given && !c.input(3))
    // The runtime interpolates with the scale itself, which output/input sizes only bound.
    c.fail('scales computed at run time are not supported; export with constant scales or sizes');
  else if (sizes && sizes.length > 0) {
    const ratios = axes.map((a, i) => sizes[i]! / inDims[a]!);
    const policy = c.string('keep_aspect_ratio_policy', 'stretch');
    if (policy === 'not_larger') scales = axes.map(() => Math.min(...ratios));
    else if (policy === 'not_smaller') scales = axes.map(() => Math.max(...ratios));
    else scales = ratios;
  } else if (c.string('keep_aspect_ratio_policy', 'stretch') !== 'stretch')
    c.fail('keep_aspect_ratio_policy needs constant sizes');
  if (c.int('antialias', 0) === 1 && mode !== 'nearest' && scales.some((s) => s < 1))
    c.fail('antialiased downsampling is not supported');
  const out = new Map<number, AxisResize>();
  axes.forEach((axis, i) => {
    out.set(axis, {
      mode,
      coordinates,
      nearest: c.string('nearest_mode', 'round_prefer_floor'),
      cubicA: c.float('cubic_coeff_a', -0.75),
      excludeOutside: c.int('exclude_outside', 0) === 1,
      scale: scales[i]!,
      inSize: inDims[axis]!,
      outSize: outDims[axis]!,
    });
  });
  return out;
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
