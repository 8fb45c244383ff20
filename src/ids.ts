// Opaque, prefixed, time-ordered ids (`job_01J…`): sortable by creation, so cursors are plain ids.
import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export type IdPrefix = 'ten' | 'key' | 'job' | 'ep' | 'msg' | 'att' | 'dl';

/** 48 bits of milliseconds then 80 random bits, in Crockford base32 (the ULID layout): 26 characters. */
export function newId(prefix: IdPrefix, now: number = Date.now()): string {
  let time = '';
  for (let ms = now, i = 0; i < 10; i++, ms = Math.floor(ms / 32)) time = CROCKFORD[ms % 32] + time;
  const random = randomBytes(10);
  let bits = 0;
  let value = 0;
  let tail = '';
  for (const byte of random) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      tail += CROCKFORD[(value >> bits) & 31];
    }
  }
  return `${prefix}_${time}${tail}`;
}
