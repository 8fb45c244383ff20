import t from 'tap';
import { parseDuration } from '../../src/config/duration.ts';

t.test('parses each unit', async (t) => {
  t.equal(parseDuration('100ms'), 100);
  t.equal(parseDuration('5s'), 5_000);
  t.equal(parseDuration('2m'), 120_000);
  t.equal(parseDuration('1h'), 3_600_000);
  t.equal(parseDuration('5d'), 432_000_000);
  t.equal(parseDuration(' 15s '), 15_000, 'surrounding spaces are ignored');
});

t.test('rejects what is not a duration', async (t) => {
  for (const text of ['', '5', 's', '1.5s', '-5s', '5 s', '5sec', '1w', '5S', '99999999999999999999d']) {
    t.equal(parseDuration(text), undefined, JSON.stringify(text));
  }
});
