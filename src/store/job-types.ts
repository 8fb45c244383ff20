// SQL for a tenant's own job types (remote and push, migrations/0012_remote_job_types.sql).
import type { Queryable } from './pool.ts';

export interface JobTypeRow {
  tenant_id: string;
  name: string;
  execution: 'remote' | 'push';
  url: string | null;
  input_schema: Record<string, unknown> | null;
  timeout_seconds: number;
  heartbeat_seconds: number;
  description: string | null;
  created_at: Date;
  updated_at: Date;
}

export type JobTypeFields = Pick<
  JobTypeRow,
  'execution' | 'url' | 'input_schema' | 'timeout_seconds' | 'heartbeat_seconds' | 'description'
>;

export async function getJobType(
  db: Queryable,
  tenantId: string,
  name: string,
): Promise<JobTypeRow | undefined> {
  const { rows } = await db.query<JobTypeRow>('select * from job_types where tenant_id = $1 and name = $2', [
    tenantId,
    name,
  ]);
  return rows[0];
}

/** The type locked for a change, serialising registrations and deletions of one name. */
export async function lockJobType(
  db: Queryable,
  tenantId: string,
  name: string,
): Promise<JobTypeRow | undefined> {
  const { rows } = await db.query<JobTypeRow>(
    'select * from job_types where tenant_id = $1 and name = $2 for update',
    [tenantId, name],
  );
  return rows[0];
}

export async function listJobTypes(db: Queryable, tenantId: string): Promise<JobTypeRow[]> {
  const { rows } = await db.query<JobTypeRow>('select * from job_types where tenant_id = $1 order by name', [
    tenantId,
  ]);
  return rows;
}

/** Creates or replaces a type; `created` tells which. Locks the row for the rest of the caller's transaction. */
export async function putJobType(
  db: Queryable,
  tenantId: string,
  name: string,
  fields: JobTypeFields,
): Promise<{ row: JobTypeRow; created: boolean }> {
  const { rows } = await db.query<JobTypeRow & { created: boolean }>(
    `insert into job_types (tenant_id, name, execution, url, input_schema, timeout_seconds, heartbeat_seconds,
                            description)
     values ($1, $2, $3, $4, $5, $6, $7, $8)
     on conflict (tenant_id, name) do update
       set execution = excluded.execution, url = excluded.url, input_schema = excluded.input_schema,
           timeout_seconds = excluded.timeout_seconds, heartbeat_seconds = excluded.heartbeat_seconds,
           description = excluded.description, updated_at = now()
     returning *, (xmax = 0) as created`,
    [
      tenantId,
      name,
      fields.execution,
      fields.url,
      fields.input_schema === null ? null : JSON.stringify(fields.input_schema),
      fields.timeout_seconds,
      fields.heartbeat_seconds,
      fields.description,
    ],
  );
  const { created, ...row } = rows[0] as JobTypeRow & { created: boolean };
  return { row, created };
}

export async function countJobTypes(db: Queryable, tenantId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'select count(*)::int as n from job_types where tenant_id = $1',
    [tenantId],
  );
  return rows[0]?.n ?? 0;
}

export async function deleteJobType(db: Queryable, tenantId: string, name: string): Promise<boolean> {
  const { rowCount } = await db.query('delete from job_types where tenant_id = $1 and name = $2', [
    tenantId,
    name,
  ]);
  return (rowCount ?? 0) > 0;
}

/** Whether the tenant has jobs of this type queued or running (a type in use cannot go or change how it runs). */
export async function jobTypeInUse(db: Queryable, tenantId: string, name: string): Promise<boolean> {
  const { rows } = await db.query<{ used: boolean }>(
    // Remote jobs from the front of the type's range in jobs_remote_next; push jobs (and a remote type's jobs
    // from before a change of execution) through the tenant's range of jobs_tenant_due: its waiting and running
    // jobs, not its history.
    `select exists (select 1 from jobs where tenant_id = $1 and type = $2 and status in ('queued', 'running')
                      and execution = 'remote' order by tenant_id, type, next_attempt_at limit 1)
         or exists (select 1 from jobs where tenant_id = $1 and status in ('queued', 'running')
                      and execution <> 'remote' and type = $2
                     order by tenant_id, priority desc, next_attempt_at) as used`,
    [tenantId, name],
  );
  return rows[0]?.used ?? false;
}
