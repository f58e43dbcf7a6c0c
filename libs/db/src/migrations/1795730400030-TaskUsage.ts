import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The token usage of a task's successful run, as the provider reported it (or as counted when it
 * did not): null until the task succeeded. Nullable columns without a default, so adding them
 * rewrites no rows.
 */
export class TaskUsage1795730400030 implements MigrationInterface {
  name = 'TaskUsage1795730400030';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE tasks
        ADD COLUMN prompt_tokens     integer,
        ADD COLUMN completion_tokens integer,
        ADD COLUMN model             varchar(100)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE tasks DROP COLUMN model, DROP COLUMN completion_tokens, DROP COLUMN prompt_tokens`);
  }
}
