export type {
  Action,
  FirstBootResult,
  FirstBootSettings,
  FirstBootStatus,
  ParseOutcome,
  Snapshot,
} from './types.js';
export { parseFirstBoot } from './parse.js';
export { planFirstBoot } from './plan.js';
export {
  applyFirstBoot,
  execRunner,
  type ApplyDeps,
  type ApplyInit,
  type ApplyOutcome,
  type Runner,
} from './apply.js';
export { readFirstBootResult, DEFAULT_RESULT_PATH } from './result.js';
