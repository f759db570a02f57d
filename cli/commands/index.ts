import type { CommandSpec } from '../command.ts';
import { planned } from '../command.ts';
import { grad } from './grad.ts';
import { models } from './models.ts';

/** The command table: DESIGN.md's stable user surface, in the order `--help` lists it. */
export const commands: CommandSpec[] = [
  planned('audit', 'Audit a model on a dataset: K fiber samples per image, run folder with tables and report'),
  planned('sample', 'Sample the fiber of one query image (local)'),
  planned('worker', 'Run a Temporal sampling or control worker'),
  planned('check', 'Regression gate: compare a run with a baseline, exit 1 on drift'),
  planned('schedule', 'Create, list or delete Temporal Schedules of audits'),
  planned('report', 'Render the HTML report of a run'),
  planned('serve', 'Serve the dashboard of runs and live progress'),
  models,
  grad,
];
