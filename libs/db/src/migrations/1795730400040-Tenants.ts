import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tenants: API keys managed in Postgres, and a tenant on every task, post and custom persona.
 *
 * Existing rows move without loss: a task's tenant is its client_id (the API key name that
 * created it, or "anonymous"), which is also the tenant an API_KEYS entry without a "tenant"
 * field belongs to, so every client keeps seeing exactly the tasks it created. A post takes its
 * task's tenant. Existing personas were created by operators with `personas:admin` and become
 * global (tenant NULL), like the seeded ones.
 */
export class Tenants1795730400040 implements MigrationInterface {
  name = 'Tenants1795730400040';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE api_keys (
        id                   uuid         PRIMARY KEY,
        tenant               varchar(64)  NOT NULL,
        name                 varchar(64)  NOT NULL,
        tier                 varchar(64)  NOT NULL DEFAULT 'default',
        scopes               text[]       NOT NULL,
        key_sha256           char(64)     NOT NULL CONSTRAINT api_keys_key_sha256_key UNIQUE,
        previous_sha256      char(64),
        previous_valid_until timestamptz,
        created_at           timestamptz  NOT NULL DEFAULT now(),
        expires_at           timestamptz,
        revoked_at           timestamptz,
        rotated_at           timestamptz,
        last_used_at         timestamptz
      )`);
    // A rotated key's old secret is looked up by hash during its grace period.
    await queryRunner.query(
      `CREATE INDEX api_keys_previous_sha256_idx ON api_keys (previous_sha256) WHERE previous_sha256 IS NOT NULL`,
    );
    await queryRunner.query(`CREATE INDEX api_keys_tenant_idx ON api_keys (tenant, created_at)`);

    // The default is the tenant of everything created while auth is off, like client_id's.
    await queryRunner.query(`ALTER TABLE tasks ADD COLUMN tenant varchar(64)`);
    await queryRunner.query(`UPDATE tasks SET tenant = left(client_id, 64)`);
    await queryRunner.query(`ALTER TABLE tasks ALTER COLUMN tenant SET DEFAULT 'anonymous'`);
    await queryRunner.query(`ALTER TABLE tasks ALTER COLUMN tenant SET NOT NULL`);
    // Idempotency keys become unique per tenant (a tenant's keys share one namespace).
    await queryRunner.query(`DROP INDEX tasks_client_idempotency_key_uq`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX tasks_tenant_idempotency_key_uq ON tasks (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL`,
    );
    await queryRunner.query(`CREATE INDEX tasks_tenant_id_idx ON tasks (tenant, id)`);
    await queryRunner.query(`CREATE INDEX tasks_tenant_created_at_idx ON tasks (tenant, created_at)`);
    // The quota counts active tasks per tenant every second or so: an index-only scan of the backlog.
    await queryRunner.query(
      `CREATE INDEX tasks_unfinished_tenant_idx ON tasks (tenant) WHERE status IN ('queued', 'running')`,
    );

    await queryRunner.query(`ALTER TABLE posts ADD COLUMN tenant varchar(64)`);
    await queryRunner.query(`UPDATE posts p SET tenant = t.tenant FROM tasks t WHERE t.id = p.task_id`);
    await queryRunner.query(`ALTER TABLE posts ALTER COLUMN tenant SET DEFAULT 'anonymous'`);
    await queryRunner.query(`ALTER TABLE posts ALTER COLUMN tenant SET NOT NULL`);
    await queryRunner.query(`CREATE INDEX posts_tenant_id_idx ON posts (tenant, id)`);
    // The worker writes posts without knowing tenants: the row takes its task's tenant here, so
    // the completion statement needs no tenant argument and a post can never disagree with its task.
    // A post for a missing task keeps the default and is refused by the foreign key as before.
    await queryRunner.query(`
      CREATE FUNCTION posts_set_tenant() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.tenant := COALESCE((SELECT tenant FROM tasks WHERE id = NEW.task_id), NEW.tenant);
        RETURN NEW;
      END $$`);
    await queryRunner.query(
      `CREATE TRIGGER posts_set_tenant BEFORE INSERT ON posts FOR EACH ROW EXECUTE FUNCTION posts_set_tenant()`,
    );

    // NULL: a global persona (seeded, or created by an operator), readable by every tenant.
    await queryRunner.query(`ALTER TABLE personas ADD COLUMN tenant varchar(64)`);
    await queryRunner.query(`CREATE INDEX personas_tenant_idx ON personas (tenant, id)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX personas_tenant_idx`);
    await queryRunner.query(`ALTER TABLE personas DROP COLUMN tenant`);
    await queryRunner.query(`DROP TRIGGER posts_set_tenant ON posts`);
    await queryRunner.query(`DROP FUNCTION posts_set_tenant()`);
    await queryRunner.query(`ALTER TABLE posts DROP COLUMN tenant`);
    await queryRunner.query(`DROP INDEX tasks_unfinished_tenant_idx`);
    await queryRunner.query(`DROP INDEX tasks_tenant_created_at_idx`);
    await queryRunner.query(`DROP INDEX tasks_tenant_id_idx`);
    await queryRunner.query(`DROP INDEX tasks_tenant_idempotency_key_uq`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX tasks_client_idempotency_key_uq ON tasks (client_id, idempotency_key) WHERE idempotency_key IS NOT NULL`,
    );
    await queryRunner.query(`ALTER TABLE tasks DROP COLUMN tenant`);
    await queryRunner.query(`DROP TABLE api_keys`);
  }
}
