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
