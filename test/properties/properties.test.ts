// Properties that must hold for every input, checked on generated ones (fast-check): the outbound guard,
// the retry policies, and signatures (verified by the independent standardwebhooks package).
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import t from 'tap';
import { nextDelayMs } from '../../src/delivery/retry-policy.ts';
import { signatureHeader } from '../../src/delivery/sign.ts';
import { retryDelayMs } from '../../src/jobs/backoff.ts';
import { addressRefusal, createPolicy, urlRefusal } from '../../src/outbound/guard.ts';

const none = createPolicy([]);
const octet = fc.integer({ min: 0, max: 255 });
const ipv4 = fc.tuple(octet, octet, octet, octet);
const dotted = ([a, b, c, d]: [number, number, number, number]) => `${a}.${b}.${c}.${d}`;
const integerForm = ([a, b, c, d]: [number, number, number, number]) =>
  String(((a * 256 + b) * 256 + c) * 256 + d);
const hexForm = ([a, b, c, d]: [number, number, number, number]) =>
  `0x${[a, b, c, d].map((n) => n.toString(16).padStart(2, '0')).join('')}`;

t.test('guard: an IPv4 address is judged the same in every spelling', async () => {
  fc.assert(
    fc.property(ipv4, (address) => {
      const expected = addressRefusal(dotted(address), none) === undefined;
      for (const host of [dotted(address), integerForm(address), hexForm(address)]) {
        if ((urlRefusal(new URL(`http://${host}/`), none) === undefined) !== expected) return false;
      }
      const [a, b, c, d] = address;
      const mapped = `::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
      return (addressRefusal(mapped, none) === undefined) === expected;
    }),
    { numRuns: 2000 },
  );
});

t.test('guard: every address in a private, loopback, link-local or CGNAT range is refused', async () => {
  const ranges: Array<[number, number, number]> = [
    [10, 0, 8],
    [172, 16, 12],
    [192, 168, 16],
    [127, 0, 8],
    [169, 254, 16],
    [100, 64, 10],
    [0, 0, 8],
  ];
  fc.assert(
    fc.property(
      fc.constantFrom(...ranges),
      fc.integer({ min: 0, max: 2 ** 24 - 1 }),
      ([a, b, bits], host) => {
        const base = (a * 2 ** 24 + b * 2 ** 16) >>> 0;
        const value = base + (host % 2 ** (32 - bits));
        const address = [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
        return addressRefusal(address, none) !== undefined;
      },
    ),
    { numRuns: 2000 },
  );
});

t.test('guard: an allow-listed range opens every address in it and nothing outside it', async () => {
  const policy = createPolicy(['10.20.0.0/16']);
  fc.assert(
    fc.property(ipv4, (address) => {
      const [a, b] = address;
      const inside = a === 10 && b === 20;
      const allowed = addressRefusal(dotted(address), policy) === undefined;
      return inside ? allowed : allowed === (addressRefusal(dotted(address), none) === undefined);
    }),
    { numRuns: 2000 },
  );
});

t.test('delivery schedule: each delay is its scheduled value ±20 %, and the schedule ends', async () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 86_400_000 }), { minLength: 1, maxLength: 20 }),
      fc.integer({ min: 1, max: 25 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      (schedule, attempt, random) => {
        const delay = nextDelayMs(attempt, schedule, () => random);
        const planned = schedule[attempt - 1];
        if (planned === undefined) return delay === undefined;
        return delay !== undefined && delay >= Math.floor(planned * 0.8) && delay <= Math.ceil(planned * 1.2);
      },
    ),
  );
});

t.test('job backoff: within the upper half of a doubling ceiling, never above the cap', async () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 60 }),
      fc.integer({ min: 1, max: 60_000 }),
      fc.integer({ min: 1, max: 3_600_000 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      (attempt, base, max, random) => {
        const ceiling = Math.min(max, base * 2 ** (attempt - 1));
        const delay = retryDelayMs(attempt, base, max, () => random);
        return delay >= Math.floor(ceiling / 2) && delay <= Math.ceil(ceiling) && delay <= max;
      },
    ),
  );
});

t.test(
  'signatures verify with standardwebhooks for any body and secret, and fail when the body changes',
  async () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 24, maxLength: 64 }),
        // Webhook bodies are JSON (the verifier parses them); any JSON text, unicode included.
        fc.json({ maxDepth: 4 }),
        fc.string({
          minLength: 1,
          maxLength: 40,
          unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789_'),
        }),
        (bytes, body, id) => {
          const secret = `whsec_${Buffer.from(bytes).toString('base64')}`;
          const timestamp = Math.floor(Date.now() / 1000);
          const headers = {
            'webhook-id': id,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': signatureHeader([secret], id, timestamp, body),
          };
          const verifier = new Webhook(secret);
          try {
            verifier.verify(body, headers);
          } catch {
            return false;
          }
          try {
            verifier.verify(`${body} `, headers);
            return false;
          } catch {
            return true;
          }
        },
      ),
      { numRuns: 300 },
    );
  },
);
