import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t, { type Test } from 'tap';
import { createLogger } from '../../src/log.ts';
import { claimDueJobs } from '../../src/store/job-queue.ts';
import { loadMigrations, MigrationError, migrate, pendingMigrations } from '../../src/store/migrate.ts';
import { createPool, type Pool } from '../../src/store/pool.ts';
import { freshDatabase } from '../helpers/database.ts';

const log = createLogger('silent');

async function migrationsDir(t: Test, files: Record<string, string>): Promise<URL> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hookrelay-migrations-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  for (const [name, sql] of Object.entries(files)) await fs.writeFile(path.join(dir, name), sql);
  return pathToFileURL(`${dir}/`);
}

async function pool(t: Test, url: string): Promise<Pool> {
  const p = createPool(url, 3, log, 'migrate-test');
  t.teardown(() => p.end());
  return p;
}

// Creating a table twice fails, and the insert counts applications: both catch a double apply.
const FILES = {
  '0001_first.sql':
    "create table first (id int primary key); create table applied (name text);\ninsert into applied values ('0001');",
  '0002_second.sql': "create table second (id int primary key); insert into applied values ('0002');",
  'README.md': 'not a migration',
};

t.test('applies pending files in order, once, and records them', async (t) => {
  const db = await pool(t, await freshDatabase(t));
  const migrations = await loadMigrations(await migrationsDir(t, FILES));
  t.same(
    migrations.map((m) => m.name),
    ['0001_first.sql', '0002_second.sql'],
    'only numbered .sql files, in order',
  );
  t.same(await migrate(db, log, migrations), ['0001_first.sql', '0002_second.sql']);
  t.same(await migrate(db, log, migrations), [], 'a second run applies nothing');
  t.same(await pendingMigrations(db, migrations), []);
  const { rows } = await db.query('select name from applied order by name');
  t.same(rows, [{ name: '0001' }, { name: '0002' }]);
  const recorded = await db.query('select name, checksum from hookrelay_migrations order by name');
  t.same(
    recorded.rows,
    migrations.map((m) => ({ name: m.name, checksum: m.checksum })),
  );
});

t.test('concurrent starts apply each migration exactly once', async (t) => {
  const url = await freshDatabase(t);
  const migrations = await loadMigrations(await migrationsDir(t, FILES));
  const pools = await Promise.all(Array.from({ length: 6 }, () => pool(t, url)));
  const results = await Promise.all(pools.map((p) => migrate(p, log, migrations)));
  t.same(
    results.flat().sort(),
    ['0001_first.sql', '0002_second.sql'],
    'each file applied by exactly one process',
  );
  const counted = await pools[0]?.query('select count(*)::int as n from applied');
  t.equal(counted?.rows[0].n, 2);
});

t.test('a failing migration rolls back and names the file', async (t) => {
  const db = await pool(t, await freshDatabase(t));
  const migrations = await loadMigrations(
    await migrationsDir(t, {
      '0001_ok.sql': 'create table ok (id int);',
      '0002_broken.sql': 'create table half (id int); select * from no_such_table;',
    }),
  );
  const error = await migrate(db, log, migrations).catch((e: unknown) => e);
  t.ok(error instanceof MigrationError);
  t.match((error as Error).message, /0002_broken\.sql failed: .*no_such_table/);
  t.same(await pendingMigrations(db, migrations), ['0002_broken.sql']);
  const half = await db.query("select to_regclass('half') as t");
  t.equal(half.rows[0].t, null, 'nothing of the failed file remains');
});

t.test('an applied migration that was edited is refused', async (t) => {
  const db = await pool(t, await freshDatabase(t));
  await migrate(
    db,
    log,
    await loadMigrations(await migrationsDir(t, { '0001_a.sql': 'create table a (id int);' })),
  );
  const edited = await loadMigrations(
    await migrationsDir(t, { '0001_a.sql': 'create table a (id bigint);' }),
  );
  await t.rejects(migrate(db, log, edited), /0001_a\.sql was edited after it was applied/);
});

t.test('the shipped migrations apply cleanly to an empty database', async (t) => {
  const db = await pool(t, await freshDatabase(t));
  const migrations = await loadMigrations();
  t.ok(migrations.length > 0);
  await migrate(db, log, migrations);
  t.same(await pendingMigrations(db, migrations), []);
});

t.test('0005 turns the jobs of a pg-boss-era database into queue entries, due as they were', async (t) => {
  const db = await pool(t, await freshDatabase(t));
  const all = await loadMigrations();
  const before = all.filter((m) => m.name < '0005');
  await migrate(db, log, before);
  await db.query("insert into tenants (id, name, signing_secret) values ('ten_1', 'old', 'whsec_x')");
  const insert = (id: string, status: string, runAt: string | null) =>
    db.query(
      `insert into jobs (id, tenant_id, type, status, input, timeout_seconds, max_attempts, run_at, queue_entry_id)
       values ($1, 'ten_1', 'echo', $2, '1', 60, 3, $3, gen_random_uuid()) returning queue_entry_id`,
      [id, status, runAt],
    );
  const entry = (await insert('job_queued', 'queued', null)).rows[0].queue_entry_id;
  await insert('job_later', 'queued', '2999-01-01T00:00:00Z');
  await insert('job_running', 'running', null);
  await insert('job_done', 'succeeded', null);

  t.equal((await migrate(db, log, all))[0], '0005_job_queue.sql', 'applied from 0005 on');
  const { rows } = await db.query(
    `select id, lease_id, next_attempt_at <= now() as due, next_attempt_at is null as unset from jobs order by id`,
  );
  t.same(
    rows.map((row) => [row.id, row.due, row.unset]),
    [
      ['job_done', null, true],
      ['job_later', false, false],
      ['job_queued', true, false],
      ['job_running', true, false],
    ],
    'queued jobs due at their runAt or now, the running one lost (due now), a finished one left out',
  );
  t.equal(rows.find((row) => row.id === 'job_queued')?.lease_id, entry, 'the entry id became the lease id');
  const claimed = await claimDueJobs(db, { limit: 10, leaseMs: 30_000 });
  t.same(
    claimed.map((row) => [row.id, row.claimed_from, row.attempts]).sort(),
    [
      ['job_queued', 'queued', 1],
      ['job_running', 'running', 0],
    ],
    'a worker claims them: the queued one started, the lost one left for its decision',
  );
});
