// Decides which addresses outbound calls (callbacks, the `http` job type) may reach: public unicast only,
// unless an operator allow-listed a range (OUTBOUND_ALLOW_CIDRS). Pure functions; the client applies them.
import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

export interface OutboundPolicy {
  allow: Array<[Address, number]>;
}

/** Cloud metadata and host services that sit on ordinary-looking addresses. */
const METADATA = new Set([
  '168.63.129.16',
  '100.100.100.200',
  '192.0.0.192',
  '169.254.169.254',
  'fd00:ec2::254',
]);

export function createPolicy(allowCidrs: string[]): OutboundPolicy {
  return { allow: allowCidrs.map((cidr) => ipaddr.parseCIDR(cidr)) };
}

function allowListed(address: Address, policy: OutboundPolicy): boolean {
  return policy.allow.some(([range, bits]) => address.kind() === range.kind() && address.match(range, bits));
}

/** Why this IP may not be called, or undefined when it may. IPv4-mapped IPv6 is judged as the IPv4 it is. */
export function addressRefusal(text: string, policy: OutboundPolicy): string | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (!ipaddr.isValid(bare)) return `${text} is not an IP address`;
  const address = ipaddr.process(bare);
  if (allowListed(address, policy)) return undefined;
  if (METADATA.has(address.toString())) return `${text} is a cloud metadata address`;
  const range = address.range();
  // NAT64, 6to4 and Teredo embed an IPv4 target and so are refused with every other non-unicast range.
  return range === 'unicast' ? undefined : `${text} is a ${range} address`;
}

export function isIpLiteral(hostname: string): boolean {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return ipaddr.isValid(bare) && (bare.includes(':') || ipaddr.IPv4.isValidFourPartDecimal(bare));
}

/** Checks what can be checked without DNS: scheme, credentials, and an IP-literal host. */
export function urlRefusal(url: URL, policy: OutboundPolicy): string | undefined {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'only http and https URLs may be called';
  if (url.username || url.password) return 'URLs may not carry credentials';
  if (!url.hostname) return 'the URL has no host';
  // WHATWG URL parsing already turned every IPv4 spelling (octal, hex, integer) into dotted decimal.
  if (isIpLiteral(url.hostname)) return addressRefusal(url.hostname, policy);
  return undefined;
}
