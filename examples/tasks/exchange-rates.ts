// A job that calls an upstream API through ctx.fetch, the guarded client: private and metadata addresses are
// refused unless OUTBOUND_ALLOW_CIDRS allows them, and the call ends with the attempt. The answer steers
// retries: 429 and 5xx are tried again (after Retry-After when given), other 4xx fail the job at once.
import { defineTask, PermanentJobError, RetryLaterError, z } from 'hookrelay';

export default defineTask({
  type: 'rates.fetch',
  input: z.object({
    base: z.string().regex(/^[A-Z]{3}$/),
    symbols: z
      .array(z.string().regex(/^[A-Z]{3}$/))
      .min(1)
      .max(30),
    /** The rates service; any that answers `{ rates: { USD: 1.08, … } }` for ?base=EUR&symbols=USD,… */
    url: z.url({ protocol: /^https?$/ }).default('https://api.frankfurter.app/latest'),
  }),
  timeoutSeconds: 60,
  async run({ base, symbols, url }, ctx) {
    const query = new URL(url);
    query.searchParams.set('base', base);
    query.searchParams.set('symbols', symbols.join(','));
    const response = await ctx.fetch(query, { headers: { accept: 'application/json' } });
    if (response.status === 429 || response.status >= 500) {
      const after = Number(response.headers.get('retry-after'));
      const message = `the rates service answered ${response.status}`;
      throw Number.isFinite(after) && after > 0
        ? new RetryLaterError(message, after * 1000)
        : new Error(message);
    }
    if (!response.ok)
      throw new PermanentJobError(`the rates service refused the request: ${response.status}`);
    const body = (await response.json()) as { rates?: Record<string, number> };
    const rates = Object.fromEntries(symbols.map((symbol) => [symbol, body.rates?.[symbol] ?? null]));
    return { base, rates, fetchedAt: new Date().toISOString() };
  },
});
