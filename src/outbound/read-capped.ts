// Reads at most `cap` bytes of a response body and drops the rest, so no upstream can exhaust memory, and turns
// them into text that can always be stored: decoded as UTF-8 with replacement, NULs removed, and a compressed
// body (we never ask for one, but some servers send one anyway) described instead of kept as mojibake.
import type { Readable } from 'node:stream';
import { storableText } from '../storable.ts';

export interface CappedText {
  text: string;
  truncated: boolean;
  /** The body was sent compressed (Content-Encoding): `text` only describes it. */
  encoded: boolean;
}

export async function readCapped(
  body: Readable,
  cap: number,
  contentEncoding?: string | string[],
): Promise<CappedText> {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    if (size + buffer.length > cap) {
      chunks.push(buffer.subarray(0, cap - size));
      size = cap;
      truncated = true;
      body.destroy();
      break;
    }
    chunks.push(buffer);
    size += buffer.length;
  }
  const encoding = [contentEncoding ?? []].flat().join(', ').trim().toLowerCase();
  if (encoding !== '' && encoding !== 'identity') {
    const bytes = truncated ? `more than ${cap} bytes` : `${size} bytes`;
    return {
      text: storableText(`[${encoding}-encoded body of ${bytes}, not kept]`),
      truncated,
      encoded: true,
    };
  }
  return { text: storableText(Buffer.concat(chunks).toString('utf8')), truncated, encoded: false };
}
