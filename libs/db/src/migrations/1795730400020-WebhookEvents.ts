import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The webhook outbox: one row per terminal state a task with a callback reaches, written by the
 * statement that makes the transition, so no event is lost between the status change and the
 * queue. The worker dispatches pending rows to the webhook queue and records the outcome.
 */
export class WebhookEvents1795730400020 implements MigrationInterface {
  name = 'WebhookEvents1795730400020';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE webhook_events (
        id               uuid         PRIMARY KEY,
        task_id          uuid         NOT NULL CONSTRAINT webhook_events_task_id_fkey REFERENCES tasks(id) ON DELETE CASCADE,
        type             varchar(32)  NOT NULL
                         CONSTRAINT webhook_events_type_check CHECK (type IN ('task.succeeded', 'task.failed', 'task.cancelled')),
        payload          jsonb        NOT NULL,
        status           varchar(16)  NOT NULL DEFAULT 'pending'
                         CONSTRAINT webhook_events_status_check CHECK (status IN ('pending', 'delivered', 'dead')),
        attempts         integer      NOT NULL DEFAULT 0,
        last_error       text,
        next_dispatch_at timestamptz  NOT NULL DEFAULT now(),
        created_at       timestamptz  NOT NULL DEFAULT now(),
        delivered_at     timestamptz
      )`);
    // The dispatcher only ever looks at pending events that are due; a partial index keeps that scan tiny.
    await queryRunner.query(
      `CREATE INDEX webhook_events_pending_idx ON webhook_events (next_dispatch_at) WHERE status = 'pending'`,
    );
    await queryRunner.query(`CREATE INDEX webhook_events_task_id_idx ON webhook_events (task_id)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE webhook_events`);
  }
}
