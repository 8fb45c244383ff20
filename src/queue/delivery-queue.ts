// The pg-boss queue of delivery attempts. Each entry carries only a message id; the messages table is the truth.
import { randomUUID } from 'node:crypto';
import type { PgBoss } from 'pg-boss';
import type { Config } from '../config/config.ts';
import type { Tx } from '../store/transaction.ts';
import { ensureQueue } from './boss.ts';

export const DELIVERY_QUEUE = 'hookrelay-deliveries';

export interface DeliveryEntryData {
  messageId: string;
}

export async function createDeliveryQueue(boss: PgBoss, config: Config): Promise<void> {
  await ensureQueue(boss, DELIVERY_QUEUE, { notify: true, heartbeatSeconds: config.jobHeartbeatSeconds });
}

/**
 * Enqueues the entries for the next attempts of these messages in the caller's transaction (one statement),
 * so a message and its entry commit together. pg-boss retries an entry only when its worker died; the
 * dispatcher's own retries are new entries scheduled from DELIVERY_RETRY_SCHEDULE.
 */
export async function enqueueDeliveries(
  boss: PgBoss,
  tx: Tx,
  deliveries: Array<{ messageId: string; entryId: string; receiver: string; startAfter?: Date }>,
  expireInSeconds: number,
): Promise<void> {
  if (deliveries.length === 0) return;
  await boss.insert(
    DELIVERY_QUEUE,
    deliveries.map((d) => ({
      id: d.entryId,
      data: { messageId: d.messageId } satisfies DeliveryEntryData,
      // Entries of one receiver form a pg-boss group, whose concurrency the dispatcher caps across all workers.
      group: { id: d.receiver },
      ...(d.startAfter && { startAfter: d.startAfter }),
      expireInSeconds,
      retryLimit: 5,
      retryDelay: 1,
      retryBackoff: true,
    })),
    { db: { executeSql: (text, values) => tx.query(text, values) } },
  );
}

export const newEntryId = randomUUID;

/** Who receives a message, for per-receiver concurrency: its endpoint, or the origin of its callback URL. */
export function receiverOf(message: { endpoint_id: string | null; url: string }): string {
  if (message.endpoint_id) return message.endpoint_id;
  try {
    return new URL(message.url).origin;
  } catch {
    return message.url;
  }
}
