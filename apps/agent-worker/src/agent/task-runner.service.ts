import { runSql, type TaskInput, type TaskStatus } from '@app/db';
import { AppConfig, newId, taskEventsChannel, TASK_QUEUE, type RunTaskJobData } from '@app/platform';
import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Job, Queue } from 'bull';
import { performance } from 'node:perf_hooks';
import { DataSource } from 'typeorm';
import { generateBuiltinPost } from './builtin-agent';

interface ClaimedTaskRow {
  id: string;
  task_type: string;
  input: TaskInput;
  persona_id: string;
  persona_name: string;
  system_prompt: string;
}

export type RunOutcome = 'succeeded' | 'skipped';

/*
 * Claim and persona lookup in one round trip. Only queued or running tasks are claimed: a
 * cancelled or finished task is never run again, and "running" lets a job whose worker died
 * (Bull re-delivers stalled jobs) be picked up by the next worker.
 */
const CLAIM_SQL = `
  UPDATE tasks t SET status = 'running', attempts = t.attempts + 1,
         started_at = COALESCE(t.started_at, now()), updated_at = now()
  FROM personas p
  WHERE t.id = $1 AND t.status IN ('queued', 'running') AND p.id = t.persona_id
  RETURNING t.id, t.task_type, t.input, t.persona_id, p.name AS persona_name, p.system_prompt`;

/*
 * Post and status in one statement, hence one implicit transaction: ON CONFLICT keeps the first
 * post when a job runs twice, and the status only moves from running.
 */
const COMPLETE_SQL = `
  WITH post AS (
    INSERT INTO posts (id, task_id, persona_id, hook, body, tokens_used, model, latency_ms)
    VALUES ($2, $1, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (task_id) DO NOTHING
  )
  UPDATE tasks SET status = 'succeeded', last_error = NULL, finished_at = now(), updated_at = now()
  WHERE id = $1 AND status = 'running'`;

@Injectable()
export class TaskRunnerService {
  private readonly logger = new Logger(TaskRunnerService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectQueue(TASK_QUEUE) private readonly queue: Queue<RunTaskJobData>,
    private readonly config: AppConfig,
  ) {}

  async run(job: Job<RunTaskJobData>): Promise<RunOutcome> {
    const { taskId, requestId } = job.data;
    const { rows } = await runSql<ClaimedTaskRow>(this.dataSource, CLAIM_SQL, [taskId]);
    const task = rows[0];
    if (!task) {
      this.logger.log(
        { taskId, requestId, jobId: job.id },
        'task not runnable (cancelled, finished or gone); skipping',
      );
      return 'skipped';
    }
    const started = performance.now();
    const output = generateBuiltinPost(
      { id: task.persona_id, name: task.persona_name, systemPrompt: task.system_prompt },
      task.task_type,
      task.input,
    );
    const latencyMs = Math.round(performance.now() - started);
    await this.dataSource.query(COMPLETE_SQL, [
      taskId,
      newId(),
      task.persona_id,
      output.hook,
      output.body,
      output.tokensUsed,
      output.model,
      latencyMs,
    ]);
    await this.announce(taskId, 'succeeded');
    return 'succeeded';
  }

  /** Records a failed attempt: failed for good after the last attempt, otherwise queued for Bull's retry. */
  async recordFailure(job: Job<RunTaskJobData>, err: Error): Promise<void> {
    const attempts = job.opts.attempts ?? 1;
    const final = job.attemptsMade + 1 >= attempts;
    const status: TaskStatus = final ? 'failed' : 'queued';
    await this.dataSource.query(
      `UPDATE tasks SET status = $2, last_error = $3, updated_at = now(),
         finished_at = CASE WHEN $2 = 'failed' THEN now() ELSE NULL END
       WHERE id = $1 AND status = 'running'`,
      [job.data.taskId, status, err.message.slice(0, 2000)],
    );
    if (final) await this.announce(job.data.taskId, 'failed');
  }

  private async announce(taskId: string, status: TaskStatus): Promise<void> {
    try {
      await this.queue.client.publish(taskEventsChannel(this.config.get('QUEUE_PREFIX'), taskId), status);
    } catch (err) {
      this.logger.warn({ taskId, err: String(err) }, 'could not publish task event');
    }
  }
}
