// `demo.report`: pretends to build a report step by step, reporting progress: for the quick start.
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { defineHandler } from '../handler.ts';

const input = z.object({
  steps: z.number().int().min(1).max(100).default(5),
  stepMs: z.number().int().min(0).max(60_000).default(1_000),
});

export const demoReport = defineHandler({
  type: 'demo.report',
  input,
  defaultTimeoutSeconds: 600,
  run: async ({ steps, stepMs }, ctx) => {
    for (let step = 1; step <= steps; step++) {
      await sleep(stepMs, undefined, { signal: ctx.signal });
      await ctx.progress(Math.round((step / steps) * 100), `step ${step} of ${steps}`);
    }
    return { rows: steps * 10, generatedAt: new Date().toISOString() };
  },
});
