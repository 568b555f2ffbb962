import { z } from 'zod';

/**
 * The local runner (`npm start`) writes this file whenever a process starts, exits or restarts,
 * so that the monitoring service can show the suite's processes when there is no Docker engine.
 */
export const RunnerProcess = z.object({
  name: z.string(),
  pid: z.number().int().nullable(),
  status: z.enum(['starting', 'running', 'restarting', 'stopped', 'crashed']),
  startedAt: z.number().nullable(),
  restarts: z.number().int().min(0),
  lastExitCode: z.number().int().nullable(),
});
export type RunnerProcess = z.infer<typeof RunnerProcess>;

export const RunnerState = z.object({
  version: z.literal(1),
  runnerPid: z.number().int(),
  updatedAt: z.number(),
  processes: z.array(RunnerProcess),
});
export type RunnerState = z.infer<typeof RunnerState>;
