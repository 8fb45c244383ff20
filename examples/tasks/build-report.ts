// A long job of a team's own: builds a year's account report month by month, about five seconds a month,
// reporting progress as it goes. Cancelling the job (or its timeout) aborts the wait at once through ctx.signal.
import { setTimeout as sleep } from 'node:timers/promises';
import { defineTask, z } from 'hookrelay';

export default defineTask({
  type: 'reports.build',
  input: z.object({
    accountId: z.string().min(1).max(100),
    months: z.number().int().min(1).max(24).default(12),
    msPerMonth: z.number().int().min(0).max(60_000).default(5_000),
  }),
  timeoutSeconds: 600,
  async run({ accountId, months, msPerMonth }, ctx) {
    ctx.log.info({ accountId, months }, 'building the report');
    const totals: Array<{ month: number; invoices: number; amountCents: number }> = [];
    for (let month = 1; month <= months; month++) {
      // Stands in for the month's queries; any real work takes ctx.signal the same way.
      await sleep(msPerMonth, undefined, { signal: ctx.signal });
      const invoices = (accountId.length * 7 + month * 13) % 40;
      totals.push({ month, invoices, amountCents: invoices * 12_500 });
      await ctx.progress(Math.round((month / months) * 100), `month ${month} of ${months}`);
    }
    return { accountId, months: totals, generatedAt: new Date().toISOString() };
  },
});
