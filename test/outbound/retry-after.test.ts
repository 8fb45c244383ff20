import t from 'tap';
import { parseRetryAfter, RETRY_AFTER_CAP_MS } from '../../src/outbound/retry-after.ts';

const now = Date.parse('2026-11-23T12:00:00Z');

t.test('seconds and HTTP dates, capped, never negative', async (t) => {
  t.equal(parseRetryAfter('120', now), 120_000);
  t.equal(parseRetryAfter(' 0 ', now), 0);
  t.equal(parseRetryAfter(['5', '9'], now), 5_000, 'the first of repeated headers');
  t.equal(parseRetryAfter('Mon, 23 Nov 2026 12:00:30 GMT', now), 30_000);
  t.equal(parseRetryAfter('Mon, 23 Nov 2026 11:00:00 GMT', now), 0, 'a date in the past means now');
  t.equal(parseRetryAfter('999999', now), RETRY_AFTER_CAP_MS, 'capped');
});

t.test('anything else is ignored', async (t) => {
  for (const value of [undefined, '', '  ', 'soon', '-5', '1.5', []]) {
    t.equal(parseRetryAfter(value as string | undefined, now), undefined, JSON.stringify(value));
  }
});
