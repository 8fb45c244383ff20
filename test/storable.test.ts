// What reaches the database from outside is made storable first (src/store/storable.ts, read-capped.ts).
import { Readable } from 'node:stream';
import t from 'tap';
import { readCapped } from '../src/outbound/read-capped.ts';
import { isDataRefusal, jsonRefusal, storableText } from '../src/storable.ts';

t.test('storableText drops NULs and replaces unpaired surrogates', async (t) => {
  t.equal(storableText('a\0b\0'), 'ab');
  t.equal(storableText('x\ud800y'), 'x\ufffdy');
  t.equal(storableText('plain 😀'), 'plain 😀', 'paired surrogates are left alone');
});

t.test('jsonRefusal names what Postgres would refuse, and passes the rest', async (t) => {
  t.equal(jsonRefusal({ a: [1, 'two', { three: null }] }), undefined);
  t.equal(jsonRefusal(undefined), undefined, 'nothing to store is stored as null');
  t.equal(jsonRefusal({ text: 'a\\u0000b' }), undefined, 'an escaped backslash before u0000 is just text');
  t.match(jsonRefusal({ text: 'a\0b' }), /NUL character/);
  t.match(jsonRefusal({ 'key\0': 1 }), /NUL character/);
  t.match(jsonRefusal(['\udc00']), /unpaired UTF-16 surrogate/);
  let deep: unknown = [];
  for (let i = 0; i < 1_001; i++) deep = [deep];
  t.match(jsonRefusal(deep), /nested more than 1000 levels/);
  t.match(jsonRefusal(JSON.parse(`${'['.repeat(300_000)}${']'.repeat(300_000)}`)), /nested too deep/);
  t.match(jsonRefusal({ n: 1n }), /cannot be serialised as JSON/);
});

t.test('isDataRefusal tells refused data from other database errors', async (t) => {
  t.ok(isDataRefusal({ code: '22P05' }));
  t.ok(isDataRefusal({ code: '54001' }));
  t.notOk(isDataRefusal({ code: '57P01' }));
  t.notOk(isDataRefusal(new Error('no code')));
});

t.test('readCapped keeps at most the cap, as storable text', async (t) => {
  const read = await readCapped(Readable.from([Buffer.from('ab\0c'), Buffer.from('defgh')]), 6);
  t.same(read, { text: 'abcde', truncated: true, encoded: false });
  const encoded = await readCapped(Readable.from([Buffer.from([0x1f, 0x8b, 0, 1])]), 100, 'br');
  t.same(encoded, { text: '[br-encoded body of 4 bytes, not kept]', truncated: false, encoded: true });
  const identity = await readCapped(Readable.from([Buffer.from('x')]), 100, 'identity');
  t.equal(identity.text, 'x');
});
