export { vjp, checkRequest, gradName, unsupportedNodes, MIN_OPSET, MAX_OPSET } from './vjp.ts';
export type { VjpOptions, StaticShape, UnsupportedNode } from './vjp.ts';
export { deriveGradient } from './derive.ts';
export type { DeriveOptions, Derived } from './derive.ts';
export { RULES, findRule, supportedOps } from './registry.ts';
export { NO_GRADIENT_OPS } from './nograd.ts';
export { summarizeModel } from './coverage.ts';
export type { ModelSummary, OperatorUse, GradientSupport } from './coverage.ts';
export type { OpRule, RuleContext, VjpFunction } from './rule.ts';
