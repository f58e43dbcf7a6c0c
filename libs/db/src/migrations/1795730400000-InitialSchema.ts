import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1795730400000 implements MigrationInterface {
  name = 'InitialSchema1795730400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE personas (
        id            varchar(64)  PRIMARY KEY CONSTRAINT personas_id_check CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
        name          varchar(200) NOT NULL,
        system_prompt text         NOT NULL,
        model         varchar(100) NOT NULL,
        temperature   real         NOT NULL CONSTRAINT personas_temperature_check CHECK (temperature >= 0 AND temperature <= 2),
        max_tokens    integer      NOT NULL CONSTRAINT personas_max_tokens_check CHECK (max_tokens > 0),
        created_at    timestamptz  NOT NULL DEFAULT now(),
        updated_at    timestamptz  NOT NULL DEFAULT now(),
        archived_at   timestamptz
      )`);
    await queryRunner.query(`
      CREATE TABLE tasks (
        id                  uuid         PRIMARY KEY,
        persona_id          varchar(64)  NOT NULL CONSTRAINT tasks_persona_id_fkey REFERENCES personas(id) ON DELETE RESTRICT,
        task_type           varchar(64)  NOT NULL,
        input               jsonb        NOT NULL,
        status              varchar(16)  NOT NULL DEFAULT 'queued'
                            CONSTRAINT tasks_status_check CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
        attempts            integer      NOT NULL DEFAULT 0,
        last_error          text,
        client_id           varchar(128) NOT NULL DEFAULT 'anonymous',
        idempotency_key     varchar(255),
        request_fingerprint char(64),
        request_id          varchar(128),
        callback_url        text,
        created_at          timestamptz  NOT NULL DEFAULT now(),
        started_at          timestamptz,
        finished_at         timestamptz,
        updated_at          timestamptz  NOT NULL DEFAULT now()
      )`);
    // Idempotency keys are unique per client, not globally.
    await queryRunner.query(
      `CREATE UNIQUE INDEX tasks_client_idempotency_key_uq ON tasks (client_id, idempotency_key) WHERE idempotency_key IS NOT NULL`,
    );
    // List queries order by id (UUIDv7 = creation order) and filter by status or persona;
    // Postgres walks these backwards for ORDER BY id DESC.
    await queryRunner.query(`CREATE INDEX tasks_status_id_idx ON tasks (status, id)`);
    await queryRunner.query(`CREATE INDEX tasks_persona_id_idx ON tasks (persona_id, id)`);
    await queryRunner.query(`CREATE INDEX tasks_created_at_idx ON tasks (created_at)`);
    // The reconciler only ever looks at unfinished tasks; a partial index keeps that scan tiny.
    await queryRunner.query(
      `CREATE INDEX tasks_unfinished_updated_at_idx ON tasks (updated_at) WHERE status IN ('queued', 'running')`,
    );
    await queryRunner.query(`
      CREATE TABLE posts (
        id          uuid         PRIMARY KEY,
        task_id     uuid         NOT NULL CONSTRAINT posts_task_id_key UNIQUE
                                 CONSTRAINT posts_task_id_fkey REFERENCES tasks(id) ON DELETE CASCADE,
        persona_id  varchar(64)  NOT NULL CONSTRAINT posts_persona_id_fkey REFERENCES personas(id) ON DELETE RESTRICT,
        hook        text         NOT NULL,
        body        text         NOT NULL,
        tokens_used integer      NOT NULL,
        model       varchar(100) NOT NULL,
        latency_ms  integer      NOT NULL,
        created_at  timestamptz  NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE INDEX posts_persona_id_idx ON posts (persona_id, id)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE posts`);
    await queryRunner.query(`DROP TABLE tasks`);
    await queryRunner.query(`DROP TABLE personas`);
  }
}
