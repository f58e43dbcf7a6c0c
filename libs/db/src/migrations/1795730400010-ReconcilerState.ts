import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One row: which orchestrator replica runs the reconciler (a lease that expires, so no session,
 * transaction or advisory lock has to stay open while the pass talks to Redis) and where its
 * sweep of the candidate tasks stopped (a keyset cursor, so the next pass resumes there).
 */
export class ReconcilerState1795730400010 implements MigrationInterface {
  name = 'ReconcilerState1795730400010';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE reconciler_state (
        id smallint PRIMARY KEY CHECK (id = 1),
        holder text,
        lease_until timestamptz NOT NULL DEFAULT '-infinity',
        cursor_updated_at timestamptz,
        cursor_id uuid
      )`);
    await queryRunner.query(`INSERT INTO reconciler_state (id) VALUES (1)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE reconciler_state`);
  }
}
