-- Tenants and their API keys: the root of every object's ownership.

create table tenants (
  id text primary key,                         -- ten_…
  name text not null,
  signing_secret text not null,                -- whsec_…: signs callbacks sent to a job's callbackUrl
  created_at timestamptz not null default now()
);

create table api_keys (
  id text primary key,                         -- key_…
  tenant_id text references tenants (id) on delete cascade,
  role text not null check (role in ('tenant', 'admin')),
  -- SHA-256 of the key. Keys are 256-bit random, so a fast hash is safe, and an index lookup on it
  -- authenticates a request in constant time whatever the number of keys.
  key_hash bytea not null unique,
  created_at timestamptz not null default now(),
  revoked_at timestamptz,
  check ((role = 'tenant') = (tenant_id is not null))
);

create index api_keys_tenant on api_keys (tenant_id);
