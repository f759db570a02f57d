/**
 * Ops whose outputs are constants with respect to their inputs: integer, boolean and shape
 * computations, and piecewise-constant functions (their derivative is zero almost everywhere).
 * Gradients stop at them.
 */
export const NO_GRADIENT_OPS: ReadonlySet<string> = new Set([
  'And',
  'ArgMax',
  'ArgMin',
  'BitShift',
  'Ceil',
  'Constant',
  'ConstantOfShape',
  'Equal',
  'EyeLike',
  'Floor',
  'Greater',
  'GreaterOrEqual',
  'IsInf',
  'IsNaN',
  'Less',
  'LessOrEqual',
  'Multinomial',
  'NonMaxSuppression',
  'NonZero',
  'Not',
  'OneHot',
  'Or',
  'RandomNormal',
  'RandomNormalLike',
  'RandomUniform',
  'RandomUniformLike',
  'Range',
  'Round',
  'Shape',
  'Sign',
  'Size',
  'Xor',
]);
