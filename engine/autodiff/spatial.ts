import type { RuleContext } from './rule.ts';

/** Sliding-window geometry of a Conv, ConvTranspose or pooling node, with auto_pad resolved to explicit pads. */
export interface Window {
  /** Spatial rank. */
  rank: number;
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Pads at the start of each spatial axis, then at the end (ONNX order). */
  begin: number[];
  end: number[];
}

/**
 * Reads kernel, strides, dilations and pads of a windowed op over `x`; auto_pad SAME_UPPER,
 * SAME_LOWER and VALID become explicit pads for the static input dims, as the forward op
 * computed them.
 */
export function windowOf(c: RuleContext, x: string, kernel: readonly number[], dilated = true): Window {
  const rank = kernel.length;
  const dims = c.requireShape(x).slice(2);
  const ones = new Array<number>(rank).fill(1);
  const strides = c.ints('strides') ?? ones;
  const dilations = dilated ? (c.ints('dilations') ?? ones) : ones;
  const autoPad = c.string('auto_pad', 'NOTSET');
  const pads = c.ints('pads') ?? new Array<number>(2 * rank).fill(0);
  let begin = pads.slice(0, rank);
  let end = pads.slice(rank);
  if (autoPad === 'VALID') {
    begin = new Array<number>(rank).fill(0);
    end = new Array<number>(rank).fill(0);
  } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    for (let i = 0; i < rank; i++) {
      const size = dims[i]!;
      const stride = strides[i]!;
      const extent = (kernel[i]! - 1) * dilations[i]! + 1;
      const total = Math.max(0, (Math.ceil(size / stride) - 1) * stride + extent - size);
      const small = Math.floor(total / 2);
      begin[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      end[i] = total - begin[i]!;
    }
  } else if (autoPad !== 'NOTSET') {
    c.fail(`auto_pad '${autoPad}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID`);
  }
  return { rank, kernel: [...kernel], strides, dilations, begin, end };
}

/**
 * The ConvTranspose (adjoint of a strided window) that maps a window output of spatial dims
 * `outDims` back onto an input of `inDims`: output_padding where the window left trailing input
 * positions unread, extra end padding where ceil_mode windows ran past the padded input.
 */
export function adjointWindowAttrs(w: Window, inDims: readonly number[], outDims: readonly number[]) {
  const end = [...w.end];
  const outputPadding: number[] = [];
  for (let i = 0; i < w.rank; i++) {
    const extent = (w.kernel[i]! - 1) * w.dilations[i]! + 1;
    const reach = w.strides[i]! * (outDims[i]! - 1) + extent - w.begin[i]!;
    end[i] = Math.max(0, reach - inDims[i]!);
    outputPadding.push(Math.max(0, inDims[i]! - reach));
  }
  return {
    strides: w.strides,
    dilations: w.dilations,
    pads: [...w.begin, ...end],
    ...(outputPadding.some((p) => p > 0) ? { output_padding: outputPadding } : {}),
  };
}
