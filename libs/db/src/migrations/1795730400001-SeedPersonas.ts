import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Two personas so a fresh install can run a task without any setup. */
export class SeedPersonas1795730400001 implements MigrationInterface {
  name = 'SeedPersonas1795730400001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `INSERT INTO personas (id, name, system_prompt, model, temperature, max_tokens) VALUES
        ($1, $2, $3, $4, $5, $6), ($7, $8, $9, $10, $11, $12)
       ON CONFLICT (id) DO NOTHING`,
      [
        'founder-voice',
        'Founder Voice',
        'You are a candid startup founder. Write short, concrete posts from lived experience. No buzzwords.',
        'gpt-4o-mini',
        0.7,
        400,
        'skeptical-analyst',
        'Skeptical Analyst',
        'You are a data-minded analyst. Question the hype, cite the trade-off, end with a practical takeaway.',
        'gpt-4o-mini',
        0.3,
        400,
      ],
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM personas WHERE id IN ('founder-voice', 'skeptical-analyst')`);
  }
}
