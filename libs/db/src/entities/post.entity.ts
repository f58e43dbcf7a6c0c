import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  OneToOne,
  PrimaryColumn,
  Unique,
} from 'typeorm';
import { Persona } from './persona.entity';
import { Task } from './task.entity';

/** The agent's output for a task: exactly one per task, however often the job ran. */
@Entity({ name: 'posts' })
@Unique('posts_task_id_key', ['taskId'])
@Index('posts_persona_id_idx', ['personaId', 'id'])
@Index('posts_tenant_id_idx', ['tenant', 'id'])
export class Post {
  @PrimaryColumn({ type: 'uuid' })
  id: string;

  @Column({ name: 'task_id', type: 'uuid' })
  taskId: string;

  @OneToOne(() => Task, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'task_id', foreignKeyConstraintName: 'posts_task_id_fkey' })
  task?: Task;

  @Column({ name: 'persona_id', type: 'varchar', length: 64 })
  personaId: string;

  @ManyToOne(() => Persona, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'persona_id', foreignKeyConstraintName: 'posts_persona_id_fkey' })
  persona?: Persona;

  /** Its task's tenant, set by the database when the post is inserted. */
  @Column({ type: 'varchar', length: 64, default: 'anonymous' })
  tenant: string;

  @Column({ type: 'text' })
  hook: string;

  @Column({ type: 'text' })
  body: string;

  @Column({ name: 'tokens_used', type: 'integer' })
  tokensUsed: number;

  @Column({ type: 'varchar', length: 100 })
  model: string;

  @Column({ name: 'latency_ms', type: 'integer' })
  latencyMs: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
