import type { CommandSpec } from '../command.ts';
import { audit } from './audit.ts';
import { demo } from './demo.ts';
import { report } from './report.ts';
import { sample } from './sample.ts';
import { serve } from './serve.ts';
import { schedule } from './schedule.ts';
import { grad } from './grad.ts';
import { models } from './models.ts';
import { worker } from './worker.ts';
import { runs } from './runs.ts';
import { check } from './check.ts';
import { cross } from './cross.ts';

/** The command table: DESIGN.md's stable user surface, in the order `--help` lists it. */
export const commands: CommandSpec[] = [
  audit,
  sample,
  demo,
  worker,
  runs,
  check,
  schedule,
  cross,
  report,
  serve,
  models,
  grad,
];
