import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config/config.ts';

t.test('defaults match the Configuration table of the API contract', async (t) => {
  const config = loadConfig({});
  t.equal(config.databaseUrl, undefined);
  t.match(config.dataDir, /\/\.hookrelay$/);
  t.equal(config.host, '127.0.0.1');
  t.equal(config.port, 3000);
  t.equal(config.adminApiKey, undefined);
  t.equal(config.role, 'all');
  t.same(config.outboundAllowCidrs, []);
  t.equal(config.deliveryTimeoutMs, 15_000);
  t.equal(config.endpointDisableAfterMs, 5 * 86_400_000);
  t.equal(config.bodyLimitBytes, 1024 * 1024);
  t.equal(config.logLevel, 'info');
  const span = config.deliveryRetryScheduleMs.reduce((sum, ms) => sum + ms, 0);
  t.ok(span >= 86_400_000, `the default retry schedule spans at least a day (${span} ms)`);
});

t.test('parses every variable', async (t) => {
  const config = loadConfig({
    DATABASE_URL: 'postgresql://u:p@db:5432/hookrelay',
    HOOKRELAY_DATA_DIR: '/var/lib/hookrelay',
    HOST: '0.0.0.0',
    PORT: '8080',
    ADMIN_API_KEY: 'k'.repeat(32),
    HOOKRELAY_ROLE: 'worker',
    OUTBOUND_ALLOW_CIDRS: '10.0.0.0/8, 127.0.0.0/8,fd00::/8',
    DELIVERY_RETRY_SCHEDULE: '100ms,5s,2m',
    DELIVERY_TIMEOUT: '3s',
    ENDPOINT_DISABLE_AFTER: '2h',
    BODY_LIMIT: '2048',
    SHUTDOWN_TIMEOUT: '10s',
    DATABASE_POOL_SIZE: '20',
    LOG_LEVEL: 'debug',
  });
  t.equal(config.databaseUrl, 'postgresql://u:p@db:5432/hookrelay');
  t.equal(config.dataDir, '/var/lib/hookrelay');
  t.equal(config.host, '0.0.0.0');
  t.equal(config.port, 8080);
  t.equal(config.role, 'worker');
  t.same(config.outboundAllowCidrs, ['10.0.0.0/8', '127.0.0.0/8', 'fd00::/8']);
  t.same(config.deliveryRetryScheduleMs, [100, 5_000, 120_000]);
  t.equal(config.deliveryTimeoutMs, 3_000);
  t.equal(config.endpointDisableAfterMs, 7_200_000);
  t.equal(config.bodyLimitBytes, 2048);
  t.equal(config.shutdownTimeoutMs, 10_000);
  t.equal(config.databasePoolSize, 20);
  t.equal(config.logLevel, 'debug');
});

t.test('empty strings count as unset', async (t) => {
  t.equal(loadConfig({ PORT: '', DATABASE_URL: '' }).port, 3000);
});

t.test('one error names every bad variable and why', async (t) => {
  const error = t.throws(() =>
    loadConfig({
      DATABASE_URL: 'mysql://localhost/x',
      PORT: '70000',
      HOOKRELAY_ROLE: 'both',
      OUTBOUND_ALLOW_CIDRS: '10.0.0.0/8,not-a-cidr',
      DELIVERY_RETRY_SCHEDULE: '5s,soon',
      DELIVERY_TIMEOUT: '15',
      ENDPOINT_DISABLE_AFTER: '1w',
      LOG_LEVEL: 'loud',
      ADMIN_API_KEY: 'short-secret',
    }),
  ) as Error;
  t.ok(error instanceof ConfigError);
  const lines = error.message.split('\n');
  t.equal(lines[0], 'Invalid configuration:');
  const expected: Array<[string, RegExp]> = [
    ['DATABASE_URL', /postgres:\/\//],
    ['PORT', /at most 65535 \(got "70000"\)/],
    ['HOOKRELAY_ROLE', /all, api, worker \(got "both"\)/],
    ['OUTBOUND_ALLOW_CIDRS', /"not-a-cidr" is not a CIDR/],
    ['DELIVERY_RETRY_SCHEDULE', /not durations: "soon"/],
    ['DELIVERY_TIMEOUT', /expected a duration/],
    ['ENDPOINT_DISABLE_AFTER', /expected a duration/],
    ['LOG_LEVEL', /pino level/],
    ['ADMIN_API_KEY', /at least 24 characters/],
  ];
  for (const [name, why] of expected) {
    const line = lines.find((l) => l.trim().startsWith(`${name}:`));
    t.ok(line, `${name} is named`);
    t.match(line ?? '', why, `${name} says why`);
  }
  t.equal(lines.length, expected.length + 1, 'one line per bad variable');
  t.notMatch(error.message, /short-secret/, 'a secret value is never echoed');
  t.notMatch(error.message, /mysql:\/\/localhost/, 'a database URL (may hold a password) is never echoed');
});

t.test('an empty retry schedule is refused', async (t) => {
  t.throws(() => loadConfig({ DELIVERY_RETRY_SCHEDULE: ' , ' }), /DELIVERY_RETRY_SCHEDULE/);
});

t.test('leases: 30 s by default, at least 3 s', async (t) => {
  const defaults = loadConfig({});
  t.equal(defaults.jobHeartbeatMs, 30_000);
  t.equal(defaults.deliveryLeaseMs, 30_000);
  const short = loadConfig({ JOB_HEARTBEAT: '4s', DELIVERY_LEASE: '3s' });
  t.equal(short.jobHeartbeatMs, 4_000);
  t.equal(short.deliveryLeaseMs, 3_000);
  t.throws(() => loadConfig({ JOB_HEARTBEAT: '2s' }), /JOB_HEARTBEAT: must be at least 3s/);
  t.throws(() => loadConfig({ DELIVERY_LEASE: '2999ms' }), /DELIVERY_LEASE: must be at least 3s/);
});
