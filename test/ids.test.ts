// Ids sort by the time they were made, and idFloor bounds a range scan over them exactly.
import fc from 'fast-check';
import t from 'tap';
import { idFloor, idOf, newId } from '../src/ids.ts';

t.test('idFloor is at or below every id made from that moment on, and above every earlier one', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 47 }), fc.integer({ min: 0, max: 10_000 }), (ms, later) => {
      const floor = idFloor('msg', new Date(ms));
      return newId('msg', ms - 1) < floor && floor <= newId('msg', ms) && floor <= newId('msg', ms + later);
    }),
  );
  t.ok(idOf('msg').safeParse(idFloor('msg', new Date())).success, 'a floor has the shape of an id');
});

t.test('ids made in the same millisecond differ, across many refills of the random pool', async (t) => {
  const at = Date.now();
  // 10 random bytes an id, 4096 a pool: 2,000 ids cross its refill five times.
  const ids = Array.from({ length: 2_000 }, () => newId('msg', at));
  t.equal(new Set(ids).size, ids.length, 'no two alike');
  t.ok(
    ids.every((id) => idOf('msg').safeParse(id).success),
    'each of the shape idOf accepts',
  );
  // Each pool's bytes are used once: no id's random part repeats the one made a pool earlier.
  const tails = ids.map((id) => id.slice(-16));
  const perPool = Math.floor(4096 / 10);
  t.notOk(
    tails.some((tail, i) => i >= perPool && tail === tails[i - perPool]),
    'no random part repeats a pool later',
  );
});
