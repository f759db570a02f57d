export * from './ir.ts';
export * from './attributes.ts';
export * from './builder.ts';
export * from './compose.ts';
export { decodeModel, encodeModel, loadModel, saveModel } from './model.ts';
export type { DecodeOptions, EncodeOptions } from './model.ts';
export { upgradeOpset, MIN_UPGRADE_OPSET } from './opset.ts';
export { checkTopology, sortTopologically } from './topology.ts';
export { widenFloat16 } from './precision.ts';
