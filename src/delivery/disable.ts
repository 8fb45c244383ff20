// Disabling an endpoint that kept failing: its state changes in the caller's transaction (the attempt that found
// it failing too long), and what waits for it is dead-lettered by a drain afterwards (drain.ts), which ends with
// the endpoint.disabled alert.
import type { AppContext } from '../context.ts';
import type { EndpointRow } from '../store/endpoints.ts';
import type { Tx } from '../store/transaction.ts';
import { requestDrain } from './drain.ts';

export async function disableEndpoint(ctx: AppContext, tx: Tx, endpoint: EndpointRow): Promise<void> {
  await requestDrain(ctx, tx, {
    endpointId: endpoint.id,
    tenantId: endpoint.tenant_id,
    reason: 'endpoint_disabled',
    alert: {
      url: endpoint.url,
      failingSince: endpoint.failing_since?.toISOString() ?? null,
      closedAt: endpoint.updated_at.toISOString(),
      cause: 'failing',
    },
  });
  ctx.log.warn({ endpointId: endpoint.id }, 'endpoint disabled after failing too long');
}
