import type { OpRule, VjpFunction } from './rule.ts';
import { abs } from './rules/abs.ts';
import { add } from './rules/add.ts';
import { averagePool } from './rules/average-pool.ts';
import { batchNormalization } from './rules/batch-normalization.ts';
import { cast } from './rules/cast.ts';
import { clip } from './rules/clip.ts';
import { concat } from './rules/concat.ts';
import { conv } from './rules/conv.ts';
import { convTranspose } from './rules/conv-transpose.ts';
import { cos } from './rules/cos.ts';
import { div } from './rules/div.ts';
import { dropout } from './rules/dropout.ts';
import { einsum } from './rules/einsum.ts';
import { elu } from './rules/elu.ts';
import { erf } from './rules/erf.ts';
import { exp } from './rules/exp.ts';
import { expand } from './rules/expand.ts';
import { flatten } from './rules/flatten.ts';
import { gather } from './rules/gather.ts';
import { gelu } from './rules/gelu.ts';
import { gemm } from './rules/gemm.ts';
import { globalAveragePool } from './rules/global-average-pool.ts';
import { groupNormalization } from './rules/group-normalization.ts';
import { hardSigmoid } from './rules/hard-sigmoid.ts';
import { hardSwish } from './rules/hard-swish.ts';
import { identity } from './rules/identity.ts';
import { instanceNormalization } from './rules/instance-normalization.ts';
import { layerNormalization } from './rules/layer-normalization.ts';
import { leakyRelu } from './rules/leaky-relu.ts';
import { log } from './rules/log.ts';
import { logSoftmax } from './rules/log-softmax.ts';
import { matMul } from './rules/mat-mul.ts';
import { max } from './rules/max.ts';
import { maxPool } from './rules/max-pool.ts';
import { mean } from './rules/mean.ts';
import { min } from './rules/min.ts';
import { mish } from './rules/mish.ts';
import { mul } from './rules/mul.ts';
import { neg } from './rules/neg.ts';
import { pRelu } from './rules/p-relu.ts';
import { pad } from './rules/pad.ts';
import { pow } from './rules/pow.ts';
import { reciprocal } from './rules/reciprocal.ts';
import { reduceL1 } from './rules/reduce-l1.ts';
import { reduceL2 } from './rules/reduce-l2.ts';
import { reduceLogSumExp } from './rules/reduce-log-sum-exp.ts';
import { reduceMax } from './rules/reduce-max.ts';
import { reduceMean } from './rules/reduce-mean.ts';
import { reduceMin } from './rules/reduce-min.ts';
import { reduceSum } from './rules/reduce-sum.ts';
import { reduceSumSquare } from './rules/reduce-sum-square.ts';
import { relu } from './rules/relu.ts';
import { reshape } from './rules/reshape.ts';
import { resize } from './rules/resize.ts';
import { selu } from './rules/selu.ts';
import { sigmoid } from './rules/sigmoid.ts';
import { sin } from './rules/sin.ts';
import { slice } from './rules/slice.ts';
import { softmax } from './rules/softmax.ts';
import { softplus } from './rules/softplus.ts';
import { softsign } from './rules/softsign.ts';
import { split } from './rules/split.ts';
import { sqrt } from './rules/sqrt.ts';
import { squeeze } from './rules/squeeze.ts';
import { sub } from './rules/sub.ts';
import { sum } from './rules/sum.ts';
import { tanh } from './rules/tanh.ts';
import { tile } from './rules/tile.ts';
import { transpose } from './rules/transpose.ts';
import { unsqueeze } from './rules/unsqueeze.ts';
import { where } from './rules/where.ts';

/**
 * Every gradient rule, one line each, sorted by op type. Adding a rule: one file under rules/,
 * one import and one line here, one test row (see RULES.md).
 */
export const RULES: readonly OpRule[] = [
  abs,
  add,
  averagePool,
  batchNormalization,
  cast,
  clip,
  concat,
  conv,
  convTranspose,
  cos,
  div,
  dropout,
  einsum,
  elu,
  erf,
  exp,
  expand,
  flatten,
  gather,
  gelu,
  gemm,
  globalAveragePool,
  groupNormalization,
  hardSigmoid,
  hardSwish,
  identity,
  instanceNormalization,
  layerNormalization,
  leakyRelu,
  log,
  logSoftmax,
  matMul,
  max,
  maxPool,
  mean,
  min,
  mish,
  mul,
  neg,
  pRelu,
  pad,
  pow,
  reciprocal,
  reduceL1,
  reduceL2,
  reduceLogSumExp,
  reduceMax,
  reduceMean,
  reduceMin,
  reduceSum,
  reduceSumSquare,
  relu,
  reshape,
  resize,
  selu,
  sigmoid,
  sin,
  slice,
  softmax,
  softplus,
  softsign,
  split,
  sqrt,
  squeeze,
  sub,
  sum,
  tanh,
  tile,
  transpose,
  unsqueeze,
  where,
];

const byOp = new Map<string, OpRule>();
for (const r of RULES) {
  if (byOp.has(r.op)) throw new Error(`two gradient rules for ${r.op}`);
  byOp.set(r.op, r);
}

/** The rule for an op at an opset: the variant with the highest `since` not above it. */
export function findRule(op: string, opset: number): { rule: OpRule; vjp: VjpFunction } | undefined {
  const rule = byOp.get(op);
  if (!rule) return undefined;
  let best: { since: number; vjp: VjpFunction } | undefined;
  for (const v of rule.versions) if (v.since <= opset && (!best || v.since > best.since)) best = v;
  return best && { rule, vjp: best.vjp };
}

/** Op types with a gradient rule at this opset, sorted. */
export function supportedOps(opset: number): string[] {
  return RULES.filter((r) => findRule(r.op, opset)).map((r) => r.op);
}
