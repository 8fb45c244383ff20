// 1. SIGKILL while 5,000 deliveries are in flight, then restart: every message is delivered at least once,
// none is lost, and a duplicate is a second arrival of the same webhook-id. Run once killing a worker process
// (the API keeps running), once killing an all-in-one process.

import { freshDatabase } from '../../../harness/database.ts';
import { api, submitMany, tenantWithEndpoints } from '../../../harness/load.ts';
import { receiver } from '../../../harness/receiver.ts';
import { kill, type Service, startService, stopAll } from '../../../harness/service.ts';
import { waitFor } from '../../../harness/wait.ts';
import { check, deliveryAudit, messageCounts, type Outcome } from '../harness.ts';

const MESSAGES = Number(process.env.CHAOS_KILL_MESSAGES ?? 5_000);

export async function killDuringDeliveries(serverUrl: string, role: 'worker' | 'all'): Promise<Outcome> {
  const database = await freshDatabase(serverUrl);
  const broken: string[] = [];
  try {
    // A receiver slow enough that thousands of deliveries are queued or in flight when the kill comes.
    const target = await receiver({ status: 200, delayMs: 20 });
    const env = { DATABASE_URL: database.url, JOB_HEARTBEAT: '10s' };
    let front: Service | undefined;
    let doomed: Service;
    if (role === 'worker') {
      front = await startService('api', { ...env, HOOKRELAY_ROLE: 'api' });
      doomed = await startService('worker', { ...env, HOOKRELAY_ROLE: 'worker' });
    } else {
      doomed = await startService('all-in-one', env);
    }
    const base = (front ?? doomed).base;
    const tenant = await tenantWithEndpoints(base, [target]);
    const client = api(base, tenant.key);
    const submitted = await submitMany(client, MESSAGES, (i) => ({
      type: 'echo',
      input: { i },
      endpointId: tenant.endpoints[0],
    }));
    await client.close();
    check(broken, submitted.accepted.size === MESSAGES, `all ${MESSAGES} jobs accepted`);

    await waitFor('the first 500 deliveries', () => target.arrivals.size >= 500, 120_000, 20);
    const before = await messageCounts(database.db);
    await kill(doomed);
    const killedAt = Date.now();
    const deliveredAtKill = before.delivered;

    const rescuer = await startService(`${role} (restarted)`, {
      ...env,
      ...(role === 'worker' && { HOOKRELAY_ROLE: 'worker' }),
    });
    const restartedMs = Date.now() - killedAt;
    await waitFor(
      'every message delivered',
      async () => (await messageCounts(database.db)).delivered >= MESSAGES,
      600_000,
      250,
    );
    const recoveryMs = Date.now() - killedAt;
    const after = await messageCounts(database.db);
    const audit = await deliveryAudit(database.db, target);
    check(broken, audit.messages === MESSAGES, `one message per job (${audit.messages})`);
    check(broken, after.delivered === MESSAGES && after.dead === 0, 'every message delivered, none dead');
    check(broken, audit.missing === 0, `no message missing at the receiver (${audit.missing} missing)`);
    check(broken, audit.unknown === 0, 'nothing arrived that is not a message');
    check(broken, rescuer.alive() && (front?.alive() ?? true), 'the surviving processes are up');
    check(
      broken,
      rescuer.errors.length === 0,
      `no errors logged after the restart: ${rescuer.errors[0] ?? ''}`,
    );
    return {
      figures: {
        messages: MESSAGES,
        'delivered at kill': deliveredAtKill,
        'restart (s)': +(restartedMs / 1000).toFixed(1),
        'kill → all delivered (s)': +(recoveryMs / 1000).toFixed(1),
        duplicates: audit.duplicates,
        missing: audit.missing,
      },
      broken,
    };
  } finally {
    await stopAll();
    await database.drop();
  }
}
