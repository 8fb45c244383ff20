// CPU time spent by the processes a benchmark row runs on, read from /proc (Linux): a service's process, and
// every Postgres process on this machine (the embedded server's, or DATABASE_URL's when it is local). A
// backend that exits is counted through its parent's cutime/cstime, so connections closed mid-row are not lost.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's times (USER_HZ). */
const TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime + cutime + cstime of a process, and its command name, or undefined once it is gone. */
function timesOf(pid: number | string): { comm: string; seconds: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The name is in parentheses and may hold spaces: the fields are counted from after its closing one.
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  // Fields 14-17 of proc(5), counted from 1 with pid and comm as 1 and 2: here from 0 at field 3.
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
  return { comm: stat.slice(stat.indexOf('(') + 1, close), seconds: ticks / TICKS };
}

/** CPU seconds of every process named `postgres` now. */
function postgresSeconds(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const times = timesOf(entry);
    if (times?.comm === 'postgres') total += times.seconds;
  }
  return total;
}

export interface CpuReading {
  /** CPU seconds of the given processes, and of Postgres, since the reading began. */
  stop(): { serviceSeconds: number; postgresSeconds: number };
}

/** Starts a reading over the processes `pids` (a service and its helpers) and Postgres. */
export function readCpu(pids: Array<number | undefined>): CpuReading {
  const services = () => pids.reduce<number>((sum, pid) => sum + (pid ? (timesOf(pid)?.seconds ?? 0) : 0), 0);
  const serviceStart = services();
  const postgresStart = postgresSeconds();
  return {
    stop: () => ({
      serviceSeconds: services() - serviceStart,
      postgresSeconds: postgresSeconds() - postgresStart,
    }),
  };
}

/** "0.52 ms (service 0.34, Postgres 0.18)" per delivery, and the figures. */
export function perDelivery(
  reading: { serviceSeconds: number; postgresSeconds: number },
  deliveries: number,
) {
  const ms = (seconds: number) => Math.round((seconds / Math.max(1, deliveries)) * 1e5) / 100;
  const figures = {
    cpuMsPerDelivery: ms(reading.serviceSeconds + reading.postgresSeconds),
    serviceMs: ms(reading.serviceSeconds),
    postgresMs: ms(reading.postgresSeconds),
  };
  return {
    ...figures,
    text: `CPU ${figures.cpuMsPerDelivery} ms a delivery (service ${figures.serviceMs}, Postgres ${figures.postgresMs})`,
  };
}
