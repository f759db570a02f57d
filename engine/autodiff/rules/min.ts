import { selectionRule } from '../selection.ts';

/** y = min(x1, ..., xn) with broadcasting: dy goes to the inputs equal to y, split on ties. */
export const min = selectionRule('Min');
