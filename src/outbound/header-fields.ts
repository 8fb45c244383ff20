// What an outgoing HTTP header may hold (RFC 9110 §5): checked when a client stores headers for later sends, so
// a value that can never be sent is refused with a 400 at once instead of failing every attempt.
import { z } from 'zod';

export const headerName = (max: number) =>
  z.string().regex(new RegExp(`^[!#$%&'*+.^_\`|~0-9A-Za-z-]{1,${max}}$`), 'not a valid header name');

/** Visible ASCII, spaces and tabs, and the obs-text bytes HTTP still allows; no other control character. */
export const headerValue = (max: number) =>
  z
    .string()
    .max(max)
    .regex(
      /^[\t\x20-\x7e\x80-\xff]*$/,
      'header values may hold only visible characters, spaces and tabs (no control characters, no characters beyond U+00FF)',
    );

/**
 * Headers the HTTP client sets from the request itself, or that change how it is sent: letting callers set
 * them invites request smuggling (`expect` makes the client wait for a 100 Continue it does not support).
 */
export const CLIENT_SET_HEADERS = [
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
  'te',
  'trailer',
  'expect',
];
