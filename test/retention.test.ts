// Retention deletes old finished work and keeps everything recent, waiting, or dead-lettered.
import t from 'tap';
import { runRetention } from '../src/retention.ts';
import { jobsApp } from './helpers/jobs-app.ts';
import { upstream } from './helpers/upstream.ts';

t.test(
  'old delivered messages, their attempts, finished jobs and expired idempotency keys are deleted',
  async (t) => {
    const app = await jobsApp(t, { RETENTION: '7d', DELIVERY_RETRY_SCHEDULE: '100ms' });
    const tenant = await app.tenant('retained');
    const ok = await upstream(t, () => ({ status: 200 }));
    const gone = await upstream(t, () => ({ status: 410 }));
    const submit = async (callbackUrl: string, key: string) =>
      (
        await tenant.api(
          'POST',
          '/v1/jobs',
          { type: 'echo', input: key, callbackUrl },
          { 'idempotency-key': key },
        )
      ).body.id as string;
    const oldJob = await submit(ok.url, 'old');
    const deadJob = await submit(gone.url, 'dead');
    const newJob = await submit(ok.url, 'new');
    const keptJob = await submit(ok.url, 'expired-key');
    const waiting = async (sql: string) => {
      for (let i = 0; i < 600; i++) {
        if ((await app.ctx.pool.query(sql)).rows[0].n === 4) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`still waiting after 30 s: ${sql}`);
    };
    // All four jobs finished and their messages settled (delivered, or dead for the 410 receiver).
    await waiting("select count(*)::int as n from messages where status in ('delivered', 'dead')");

    const { pool } = app.ctx;
    await pool.query(
      "update messages set delivered_at = now() - interval '8 days', created_at = now() - interval '8 days' where job_id = any($1)",
      [[oldJob, deadJob]],
    );
    await pool.query("update jobs set completed_at = now() - interval '8 days' where id = any($1)", [
      [oldJob, deadJob],
    ]);
    await pool.query(
      "update idempotency_keys set created_at = now() - interval '2 days' where key = 'expired-key'",
    );

    const deleted = await runRetention(app.ctx);
    t.match(deleted, { messages: 1, jobs: 2, idempotencyKeys: 1 });
    const count = async (sql: string, values: unknown[]) =>
      (await pool.query(sql, values)).rows[0].n as number;
    t.equal(
      await count('select count(*)::int as n from jobs where id = $1', [newJob]),
      1,
      'recent jobs stay',
    );
    t.equal(
      await count("select count(*)::int as n from messages where job_id = $1 and status = 'delivered'", [
        newJob,
      ]),
      1,
    );
    t.equal(
      await count('select count(*)::int as n from messages where job_id = $1', [oldJob]),
      0,
      'old delivered go',
    );
    t.equal(
      await count(
        'select count(*)::int as n from attempts a join messages m on m.id = a.message_id where m.job_id = $1',
        [oldJob],
      ),
      0,
    );
    t.equal(
      await count("select count(*)::int as n from messages where job_id = $1 and status = 'dead'", [deadJob]),
      1,
      'dead ones stay',
    );
    t.equal(await count('select count(*)::int as n from dead_letters where job_id = $1', [deadJob]), 1);
    t.equal(
      await count("select count(*)::int as n from idempotency_keys where key = 'new'", []),
      1,
      'live keys stay',
    );
    t.equal(
      await count("select count(*)::int as n from idempotency_keys where key = 'old'", []),
      0,
      'went with its job',
    );
    t.equal(
      await count('select count(*)::int as n from jobs where id = $1', [keptJob]),
      1,
      'an expired key leaves its job',
    );
    t.same(
      await runRetention(app.ctx),
      { messages: 0, jobs: 0, jobEvents: 0, idempotencyKeys: 0 },
      'nothing twice',
    );
  },
);
