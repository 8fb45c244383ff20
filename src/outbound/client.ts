// The one way hookrelay calls out: an undici Agent that connects only to addresses the guard allows,
// checked on every DNS answer and again on the connected socket, so DNS rebinding cannot slip through.
import dns, { type LookupAddress } from 'node:dns';
import { Agent, buildConnector } from 'undici';
import { addressRefusal, createPolicy, isIpLiteral, type OutboundPolicy, urlRefusal } from './guard.ts';

export class OutboundRefused extends Error {
  override name = 'OutboundRefused';
  readonly code = 'E_OUTBOUND_REFUSED';
}

export interface Outbound {
  policy: OutboundPolicy;
  agent: Agent;
  /** Why the URL may not be called, resolving its host now; undefined when allowed or when DNS cannot say yet. */
  check(url: URL): Promise<string | undefined>;
  close(): Promise<void>;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

function guardedLookup(policy: OutboundPolicy) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback) => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const refused = addresses
        .map((a) => addressRefusal(a.address, policy))
        .find((reason) => reason !== undefined);
      // One private answer refuses the name: a rebinding name mixes a public and a private address.
      if (refused) return callback(new OutboundRefused(`${hostname}: ${refused}`), []);
      if (options.all) return callback(null, addresses);
      const [first] = addresses;
      if (!first) return callback(new OutboundRefused(`${hostname} has no address`), []);
      callback(null, first.address, first.family);
    });
  };
}

export function createOutbound(
  allowCidrs: string[],
  timeouts: { connectMs: number; responseMs: number },
): Outbound {
  const policy = createPolicy(allowCidrs);
  const base = buildConnector({
    lookup: guardedLookup(policy),
    timeout: timeouts.connectMs,
  } as buildConnector.BuildOptions);
  const connect: buildConnector.connector = (options, callback) =>
    base(options, (error, socket) => {
      if (error || !socket) return callback(error ?? new Error('no socket'), null);
      const refused = addressRefusal(socket.remoteAddress ?? '', policy);
      if (refused) {
        socket.destroy();
        return callback(new OutboundRefused(refused), null);
      }
      callback(null, socket);
    });
  const agent = new Agent({
    connect,
    headersTimeout: timeouts.responseMs,
    bodyTimeout: timeouts.responseMs,
    // HTTP/1.1 only, and no redirects: undici follows none unless told to.
    allowH2: false,
  });

  return {
    policy,
    agent,
    async check(url) {
      const refused = urlRefusal(url, policy);
      if (refused || isIpLiteral(url.hostname)) return refused;
      const answers = await dns.promises.lookup(url.hostname, { all: true }).catch(() => []);
      return answers.map((a) => addressRefusal(a.address, policy)).find((reason) => reason !== undefined);
    },
    close: () => agent.close(),
  };
}
