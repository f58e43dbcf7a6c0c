import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** An agent configuration: who is speaking, with which model and sampling settings. */
@Entity({ name: 'personas' })
@Check('personas_id_check', `id ~ '^[a-z0-9][a-z0-9-]{0,63}$'`)
@Check('personas_temperature_check', 'temperature >= 0 AND temperature <= 2')
@Check('personas_max_tokens_check', 'max_tokens > 0')
@Index('personas_tenant_idx', ['tenant', 'id'])
export class Persona {
  /** Human-readable slug, e.g. "founder-voice". */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id: string;

  /** The tenant that owns it; null for a global persona (seeded or created by an operator), read-only to tenants. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  tenant: string | null;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Column({ name: 'system_prompt', type: 'text' })
  systemPrompt: string;

  @Column({ type: 'varchar', length: 100 })
  model: string;

  @Column({ type: 'real' })
  temperature: number;

  @Column({ name: 'max_tokens', type: 'integer' })
  maxTokens: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  /** Set by DELETE: the persona takes no new tasks, but its tasks and posts keep their history. */
  @Column({ name: 'archived_at', type: 'timestamptz', nullable: true })
  archivedAt: Date | null;
}
