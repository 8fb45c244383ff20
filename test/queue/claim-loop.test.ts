// The claim loop on its own, without Postgres: a fake queue says what each claim finds.
import { setImmediate as tick } from 'node:timers/promises';
import t from 'tap';
import { type ClaimLoopOptions, startClaimLoop } from '../../src/queue/claim-loop.ts';

/** A queue holding `due` items and `slots` free slots; claims take min(limit, due), each one recorded. */
function fakeQueue(due: number, slots: number) {
  const state = { due, slots, claims: [] as number[], notify: () => {} };
  const options: ClaimLoopOptions = {
    room: () => Math.min(state.slots, 10),
    async claim(limit) {
      state.claims.push(limit);
      const taken = Math.min(limit, state.due);
      state.due -= taken;
      state.slots -= taken;
      await tick(); // the answer comes back later, as a query's would
      return taken === limit;
    },
    listen(wake) {
      state.notify = wake;
      return () => {
        state.notify = () => {};
      };
    },
    pollMs: 60_000,
    onError: () => {},
  };
  return { state, options };
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await tick();
};

t.test('claims at start, and again while claims come back full and there is room', async (t) => {
  const { state, options } = fakeQueue(25, 100);
  const loop = startClaimLoop(options);
  await settle();
  t.same(state.claims, [10, 10, 10], 'two full claims of 10, then one that found the last 5');
  t.equal(state.due, 0);
  t.equal(loop.backlogged, false, 'the last claim was not full');
  await loop.stop();
});

t.test('without room it does not claim, and says a freed slot should', async (t) => {
  const { state, options } = fakeQueue(5, 0);
  const loop = startClaimLoop(options);
  await settle();
  t.same(state.claims, [], 'no claim with no free slot');
  t.equal(loop.backlogged, true);
  state.slots = 3;
  loop.wakeSoon();
  loop.wakeSoon();
  await settle();
  t.same(state.claims, [3], 'one claim for wake-ups in the same turn, of the room there is');
  await loop.stop();
});

t.test('a notification during a claim makes it claim once more; one after it claims', async (t) => {
  const { state, options } = fakeQueue(0, 100);
  const loop = startClaimLoop(options);
  t.equal(loop.claiming, true, 'the first claim is in flight');
  state.due = 3;
  state.notify();
  state.notify();
  await settle();
  t.same(state.claims, [10, 10], 'the claim in flight, then one more for both wake-ups');
  t.equal(state.due, 0, 'the second claim found what fell due during the first');
  state.due = 2;
  state.notify();
  await settle();
  t.same(state.claims, [10, 10, 10], 'the notification claimed');
  t.equal(state.due, 0);
  await loop.stop();
});

t.test('a failed claim is reported, and the next wake-up claims again', async (t) => {
  const { state, options } = fakeQueue(1, 100);
  const errors: unknown[] = [];
  let fail = true;
  const loop = startClaimLoop({
    ...options,
    onError: (error) => errors.push(error),
    async claim(limit) {
      if (fail) throw new Error('database away');
      return options.claim(limit);
    },
  });
  await settle();
  t.equal(errors.length, 1);
  t.match(errors[0], { message: 'database away' });
  fail = false;
  state.notify();
  await settle();
  t.equal(state.due, 0, 'claimed once the database answered');
  await loop.stop();
});

t.test('stop waits for the claim in flight, and nothing claims after it', async (t) => {
  const { state, options } = fakeQueue(50, 100);
  let release: () => void = () => {};
  const loop = startClaimLoop({
    ...options,
    async claim(limit) {
      state.claims.push(limit);
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return true;
    },
  });
  let stopped = false;
  const stopping = loop.stop().then(() => {
    stopped = true;
  });
  await settle();
  t.equal(stopped, false, 'stop waits for the claim in flight');
  release();
  await stopping;
  t.same(state.claims, [10], 'a full claim does not claim again once stopping');
  loop.wakeSoon();
  state.notify();
  await settle();
  t.same(state.claims, [10], 'nor does a wake-up or a notification after the stop');
});
