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

/**
 * Names of metadata services, refused by name: one that does not resolve where the URL is checked may still
 * resolve where it is called (a worker on another host, or a DNS answer that changes).
 */
const METADATA_NAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
]);

const IPV4_COMPATIBLE = ipaddr.parseCIDR('::/96');

/**
 * IPv6 text as WHATWG URL writes it (`::127.0.0.1` → `::7f00:1`): ipaddr.js reads a dotted tail after `::` as the
 * IPv4-mapped `::ffff:a.b.c.d`, which would hide the IPv4-compatible form.
 */
function canonical(ip: string): string {
  if (!ip.includes(':')) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip;
  }
}

/**
 * IPv4-compatible IPv6 (`::a.b.c.d`, deprecated by RFC 4291) is refused whatever the allow-list says, like the other
 * forms that embed an IPv4 target: ipaddr.js calls `::a9fe:a9fe` unicast, and some stacks route it to the IPv4.
 * `::` and `::1` are judged as what they are.
 */
function isIpv4Compatible(address: Address): boolean {
  if (address.kind() !== 'ipv6') return false;
  const v6 = address as ipaddr.IPv6;
  return v6.match(IPV4_COMPATIBLE) && !v6.match(ipaddr.parseCIDR('::/127'));
}

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
  if (isIpv4Compatible(ipaddr.parse(canonical(bare)))) return `${text} is an IPv4-compatible IPv6 address`;
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
  if (METADATA_NAMES.has(url.hostname.replace(/\.$/, '')))
    return `${url.hostname} is a cloud metadata service`;
  // WHATWG URL parsing already turned every IPv4 spelling (octal, hex, integer) into dotted decimal.
  if (isIpLiteral(url.hostname)) return addressRefusal(url.hostname, policy);
  return undefined;
}
