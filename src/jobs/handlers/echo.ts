// `echo`: the result is the input, at once: for smoke tests and benchmarks.
import { z } from 'zod';
import { defineHandler } from '../handler.ts';

export const echo = defineHandler({
  type: 'echo',
  input: z.unknown(),
  defaultTimeoutSeconds: 30,
  run: async (input) => input,
});
