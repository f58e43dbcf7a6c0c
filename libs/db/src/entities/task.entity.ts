import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
  UpdateDateColumn,
} from 'typeorm';
import { Persona } from './persona.entity';
import type { TaskStatus } from './task-status';

/** What the client asked the agent to work from. Keys are the API's snake_case names. */
export interface TaskInput {
  pain_statement?: string;
  trend_snippet?: string;
  topic?: string;
  extras?: Record<string, string | number | boolean>;
}

// Mirrors the migrations exactly, so `npm run migration:generate` only ever shows real changes.
@Entity({ name: 'tasks' })
@Check('tasks_status_check', `status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')`)
@Index('tasks_tenant_idempotency_key_uq', ['tenant', 'idempotencyKey'], {
  unique: true,
  where: 'idempotency_key IS NOT NULL',
})
@Index('tasks_status_id_idx', ['status', 'id'])
@Index('tasks_persona_id_idx', ['personaId', 'id'])
@Index('tasks_created_at_idx', ['createdAt'])
@Index('tasks_tenant_id_idx', ['tenant', 'id'])
@Index('tasks_tenant_created_at_idx', ['tenant', 'createdAt'])
@Index('tasks_unfinished_tenant_idx', ['tenant'], { where: `status IN ('queued', 'running')` })
@Index('tasks_unfinished_updated_at_idx', ['updatedAt'], { where: `status IN ('queued', 'running')` })
export class Task {
  @PrimaryColumn({ type: 'uuid' })
  id: string;

  @Column({ name: 'persona_id', type: 'varchar', length: 64 })
  personaId: string;

  @ManyToOne(() => Persona, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'persona_id', foreignKeyConstraintName: 'tasks_persona_id_fkey' })
  persona?: Persona;

  @Column({ name: 'task_type', type: 'varchar', length: 64 })
  taskType: string;

  @Column({ type: 'jsonb' })
  input: TaskInput;

  @Column({ type: 'varchar', length: 16, default: 'queued' })
  status: TaskStatus;

  @Column({ type: 'integer', default: 0 })
  attempts: number;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError: string | null;

  /** The tenant the task belongs to: only its keys (and admin keys) see it; scopes idempotency keys. */
  @Column({ type: 'varchar', length: 64, default: 'anonymous' })
  tenant: string;

  /** Which API key created the task (its name, or "anonymous" when auth is off). */
  @Column({ name: 'client_id', type: 'varchar', length: 128, default: 'anonymous' })
  clientId: string;

  @Column({ name: 'idempotency_key', type: 'varchar', length: 255, nullable: true })
  idempotencyKey: string | null;

  /** sha256 of the canonical request body, to tell a replay from a different request reusing a key. */
  @Column({ name: 'request_fingerprint', type: 'char', length: 64, nullable: true })
  requestFingerprint: string | null;

  @Column({ name: 'request_id', type: 'varchar', length: 128, nullable: true })
  requestId: string | null;

  @Column({ name: 'callback_url', type: 'text', nullable: true })
  callbackUrl: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt: Date | null;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt: Date | null;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  /** Tokens of the prompts of the successful run (all its LLM calls); null until the task succeeded. */
  @Column({ name: 'prompt_tokens', type: 'integer', nullable: true })
  promptTokens: number | null;

  /** Tokens the model generated in the successful run; null until the task succeeded. */
  @Column({ name: 'completion_tokens', type: 'integer', nullable: true })
  completionTokens: number | null;

  /** The model that answered, as the provider named it; null until the task succeeded. */
  @Column({ type: 'varchar', length: 100, nullable: true })
  model: string | null;
}
