import t from 'tap';
import { retryDelayMs } from '../../src/jobs/backoff.ts';

t.test('doubles per attempt within [half, full] of the ceiling, capped', async (t) => {
  const low = () => 0;
  const high = () => 0.999999;
  t.equal(retryDelayMs(1, 1000, 60_000, low), 500);
  t.equal(retryDelayMs(1, 1000, 60_000, high), 1000);
  t.equal(retryDelayMs(2, 1000, 60_000, low), 1000);
  t.equal(retryDelayMs(4, 1000, 60_000, high), 8000);
  t.equal(retryDelayMs(30, 1000, 60_000, high), 60_000, 'capped at the maximum');
  t.equal(retryDelayMs(30, 1000, 60_000, low), 30_000);
});

t.test('jitter spreads delays across the upper half', async (t) => {
  const delays = new Set(Array.from({ length: 200 }, () => retryDelayMs(3, 1000, 60_000)));
  t.ok(delays.size > 50, `${delays.size} distinct delays`);
  for (const delay of delays) t.ok(delay >= 2000 && delay <= 4000);
});
