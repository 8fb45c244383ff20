// Disabling an endpoint that kept failing: everything waiting for it is dead-lettered (replayable once it is
// fixed and enabled again), and endpoints subscribed to endpoint.disabled are told.
import type { AppContext } from '../context.ts';
import type { EndpointRow } from '../store/endpoints.ts';
import { lockPendingForEndpoint } from '../store/messages.ts';
import type { Tx } from '../store/transaction.ts';
import { deadLetter } from './dead-letter.ts';
import { fanOut } from './fan-out.ts';

export async function disableEndpoint(ctx: AppContext, tx: Tx, endpoint: EndpointRow): Promise<void> {
  const waiting = await lockPendingForEndpoint(tx, endpoint.id, { skipLocked: true });
  for (const message of waiting) await deadLetter(ctx, tx, message, 'endpoint_disabled');
  await fanOut(
    tx,
    {
      tenantId: endpoint.tenant_id,
      jobId: null,
      type: 'endpoint.disabled',
      data: {
        endpointId: endpoint.id,
        url: endpoint.url,
        failingSince: endpoint.failing_since?.toISOString() ?? null,
        disabledAt: endpoint.updated_at.toISOString(),
        deadLettered: waiting.length,
      },
    },
    { kind: 'subscribers' },
  );
  ctx.log.warn(
    { endpointId: endpoint.id, deadLettered: waiting.length },
    'endpoint disabled after failing too long',
  );
}
