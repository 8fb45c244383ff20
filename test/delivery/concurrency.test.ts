// The adaptive limit on its own (src/delivery/concurrency.ts), on a clock the test moves: how it grows, shrinks
// and holds, window by window.
import t from 'tap';
import { AdaptiveLimit, INITIAL_LIMIT } from '../../src/delivery/concurrency.ts';

function limiter(cap: number, adaptive = true) {
  let now = 0;
  const limit = new AdaptiveLimit({ cap, adaptive }, { now: () => now });
  /**
   * Runs one window with `n` attempts in flight at once, each ending after `rttMs`, `overloaded` or not; the
   * last answer comes when the window is over (a window closes at the first answer past its length).
   */
  const windowOf = (n: number, rttMs: number, overloaded = (_i: number) => false) => {
    for (let i = 0; i < n; i += 1) limit.started();
    for (let i = 0; i < n; i += 1) {
      if (i === n - 1) now += Math.max(rttMs, 25);
      limit.ended({ rttMs, overloaded: overloaded(i) });
    }
    return limit.limit;
  };
  /** The same, filling the limit. */
  const window = (rttMs: number, overloaded = (_i: number) => false) =>
    windowOf(limit.limit, rttMs, overloaded);
  return { limit, window, windowOf };
}

t.test('starts low and grows by one per window while the limit is reached and latency holds', async (t) => {
  const { limit, window } = limiter(25);
  t.equal(limit.limit, INITIAL_LIMIT);
  const seen = [window(20), window(20), window(20)];
  t.same(seen, [INITIAL_LIMIT + 1, INITIAL_LIMIT + 2, INITIAL_LIMIT + 3]);
  for (let i = 0; i < 40; i += 1) window(20);
  t.equal(limit.limit, 25, 'never beyond its cap');
});

t.test('does not grow while the limit is not reached', async (t) => {
  let now = 0;
  const limit = new AdaptiveLimit({ cap: 25, adaptive: true }, { now: () => now });
  for (let i = 0; i < 20; i += 1) {
    limit.started();
    now += 30;
    limit.ended({ rttMs: 20, overloaded: false });
  }
  t.equal(limit.limit, INITIAL_LIMIT, 'one attempt at a time never needed more');
});

t.test('shrinks by a tenth on pushback, down to 1 at the least', async (t) => {
  const { limit, window } = limiter(100);
  for (let i = 0; i < 25; i += 1) window(20);
  t.equal(limit.limit, 30);
  t.equal(
    window(20, (i) => i === 0),
    27,
    'one 503 in a window: x0.9',
  );
  for (let i = 0; i < 60; i += 1) window(20, () => true);
  t.equal(limit.limit, 1, 'never below 1');
});

t.test('shrinks when round trips rise above their usual spread, not for noise', async (t) => {
  const { limit, window } = limiter(100);
  for (let i = 0; i < 20; i += 1) window(i % 2 === 0 ? 20 : 21);
  const before = limit.limit;
  t.equal(window(20.5), before + 1, 'a round trip within the usual spread still grows it');
  t.equal(window(40), Math.floor((before + 1) * 0.9), 'twice as slow: x0.9');
});

t.test('a fixed limit is its cap whatever the answers', async (t) => {
  const { limit, window } = limiter(7, false);
  t.equal(limit.limit, 7);
  window(20, () => true);
  window(500);
  t.equal(limit.limit, 7);
  limit.configure({ cap: 3, adaptive: false });
  t.equal(limit.limit, 3, 'a smaller share of the budget');
  limit.configure({ cap: 50, adaptive: true });
  t.equal(limit.limit, INITIAL_LIMIT, 'turned adaptive: starts low again');
});

t.test('settles just above what a queueing receiver serves at once, below where it refuses', async (t) => {
  // A receiver serving 10 at once in 20 ms, queueing the rest (round trips grow) and refusing beyond 15.
  const { limit, window } = limiter(100);
  const answer = () => ({ rtt: 20 * Math.max(1, limit.limit / 10), refused: limit.limit > 15 });
  const seen: number[] = [];
  for (let i = 0; i < 300; i += 1) {
    const { rtt, refused } = answer();
    seen.push(window(rtt, () => refused));
  }
  const settled = seen.slice(100);
  t.ok(
    settled.every((n) => n >= 9 && n <= 14),
    `between 9 and 14 once settled, so never refused: ${Math.min(...settled)}-${Math.max(...settled)}`,
  );
});

t.test(
  'a receiver that became slower for good gets a new baseline, and the cuts made for it are undone',
  async (t) => {
    const { limit, window } = limiter(100);
    for (let i = 0; i < 30; i += 1) window(5);
    const before = limit.limit;
    const after = [window(500), window(500), window(500), window(500), window(500)];
    t.ok(Math.min(...after) < before, `fell at first: ${before} → ${after.join(', ')}`);
    t.ok(limit.limit >= before, `back where it was once the new pace is its baseline: ${limit.limit}`);
    for (let i = 0; i < 5; i += 1) window(500);
    t.ok(limit.limit > before, `and climbing at the new pace: ${limit.limit}`);
  },
);

t.test("round trips longer by this process's own event-loop lag are no rise", async (t) => {
  let now = 0;
  let lag = 0;
  const limit = new AdaptiveLimit({ cap: 100, adaptive: true }, { now: () => now, loopLagMs: () => lag });
  const window = (rttMs: number) => {
    const n = limit.limit;
    for (let i = 0; i < n; i += 1) limit.started();
    now += Math.max(rttMs, 25);
    for (let i = 0; i < n; i += 1) limit.ended({ rttMs, overloaded: false });
    return limit.limit;
  };
  for (let i = 0; i < 10; i += 1) window(2);
  const before = limit.limit;
  lag = 6;
  window(12);
  t.ok(window(12) > before, `a busy process (6 ms late) reading a 2 ms receiver's answers: ${limit.limit}`);
  lag = 0;
  const high = limit.limit;
  window(12);
  t.ok(window(12) < high, `the same round trips with no lag are a rise: ${high} → ${limit.limit}`);
});

t.test('a rise with less than half the limit in flight cuts nothing (not a queue of ours)', async (t) => {
  const { limit, windowOf: window } = limiter(100);
  while (limit.limit < 20) window(limit.limit, 1);
  t.equal(window(9, 10), 20, 'round trips ten times as long with 9 of 20 in flight: no cut');
  t.equal(window(10, 10), 18, 'with 10 of 20 in flight: x0.9');
  t.equal(window(2, 1), 18, 'unused, it neither grows nor shrinks');
});

t.test(
  'a rise is a tenth and 5 ms above the baseline: a fast receiver a few ms late is not cut',
  async (t) => {
    const { limit, window } = limiter(100);
    for (let i = 0; i < 10; i += 1) window(1);
    const before = limit.limit;
    t.equal(window(5.9), before + 1, '1 ms to 5.9 ms: within the allowance, still growing');
    t.equal(window(6.3), Math.floor((before + 1) * 0.9), '6.3 ms: above 1.1 ms + 5 ms, x0.9');
  },
);

t.test(
  'windows with little in flight do not break a run of rises (a slower receiver still gets its baseline)',
  async (t) => {
    const { limit, windowOf: window } = limiter(100);
    while (limit.limit < 30) window(limit.limit, 5);
    const cuts: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      cuts.push(window(limit.limit, 50));
      if (i < 4) window(2, 50);
    }
    t.ok(limit.limit >= 30, `five rises, with quiet windows between, rebase it: ${cuts.join(', ')}`);
  },
);
