import { runSql, type TaskInput, type TaskStatus } from '@app/db';
import { AppConfig, newId, taskEventsChannel, TASK_QUEUE, type RunTaskJobData } from '@app/platform';
import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Job, Queue } from 'bull';
import { performance } from 'node:perf_hooks';
import { DataSource } from 'typeorm';
import { LlmUnavailableError } from '../llm/llm.errors';
import { LlmService } from '../llm/llm.service';
import { WebhookService } from '../webhooks/webhook.service';
import { GuardrailService } from './guardrail.service';
import { jobLogContext, type JobLogContext } from './job-log-context';
import { bodyMessages, hookMessages, type PromptPersona } from './prompts';
import { PersonaMissingError } from './task-errors';
import { TaskMetrics } from './task.metrics';

interface ClaimedTaskRow {
  id: string;
  task_type: string;
  input: TaskInput;
  persona_id: string;
  /** Null when the persona row is gone: a permanent failure. */
  persona_name: string | null;
  system_prompt: string | null;
  model: string | null;
  temperature: number | null;
  max_tokens: number | null;
}

interface FinishedRow {
  callback_url: string | null;
}

export type RunOutcome = 'succeeded' | 'skipped';

/*
 * Claim and persona lookup in one round trip. Only queued or running tasks are claimed: a
 * cancelled or finished task is never run again, and "running" lets a job whose worker died
 * (Bull re-delivers stalled jobs) be picked up by the next worker. The persona is a LEFT JOIN so
 * that a missing one is reported as such instead of looking like a task that is not runnable.
 */
const CLAIM_SQL = `
  WITH claimed AS (
    UPDATE tasks t SET status = 'running', attempts = t.attempts + 1,
           started_at = COALESCE(t.started_at, now()), updated_at = now()
    WHERE t.id = $1 AND t.status IN ('queued', 'running')
    RETURNING t.id, t.task_type, t.input, t.persona_id
  )
  SELECT c.id, c.task_type, c.input, c.persona_id, p.name AS persona_name, p.system_prompt,
         p.model, p.temperature, p.max_tokens
  FROM claimed c LEFT JOIN personas p ON p.id = c.persona_id`;

/*
 * Post and status in one statement, hence one implicit transaction: ON CONFLICT keeps the first
 * post when a job runs twice, and the status only moves from running, so of two concurrent runs
 * exactly one sees a row come back (and announces the result).
 */
const COMPLETE_SQL = `
  WITH post AS (
    INSERT INTO posts (id, task_id, persona_id, hook, body, tokens_used, model, latency_ms)
    VALUES ($2, $1, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (task_id) DO NOTHING
  )
  UPDATE tasks SET status = 'succeeded', last_error = NULL, finished_at = now(), updated_at = now()
  WHERE id = $1 AND status = 'running'
  RETURNING callback_url`;

/** A breaker deferral is not an attempt: give back the claim's attempt and wait in the queue. */
const UNCLAIM_SQL = `
  UPDATE tasks SET status = 'queued', attempts = GREATEST(attempts - 1, 0), last_error = $2, updated_at = now()
  WHERE id = $1 AND status = 'running'`;

const NOTE_DEFERRAL_SQL = `
  UPDATE tasks SET last_error = $2, updated_at = now() WHERE id = $1 AND status = 'queued'`;

/**
 * The agent pipeline for one task: claim -> persona + input -> prompts -> hook and body through
 * the LLM (behind its circuit breaker) -> guardrail -> post + succeeded in one statement.
 * Idempotent: a job run twice, even concurrently, gives one post and one status change.
 */
@Injectable()
export class TaskRunnerService {
  private readonly logger = new Logger(TaskRunnerService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectQueue(TASK_QUEUE) private readonly queue: Queue<RunTaskJobData>,
    private readonly config: AppConfig,
    private readonly llm: LlmService,
    private readonly guardrail: GuardrailService,
    private readonly webhooks: WebhookService,
    private readonly metrics: TaskMetrics,
  ) {}

  async run(job: Job<RunTaskJobData>): Promise<RunOutcome> {
    const log = jobLogContext(job);
    const { taskId } = job.data;
    // Checked before claiming: a job deferred here costs no attempt and no status change.
    if (!this.llm.acceptingCalls) throw new LlmUnavailableError(this.llm.breakerName);

    const { rows } = await runSql<ClaimedTaskRow>(this.dataSource, CLAIM_SQL, [taskId]);
    const task = rows[0];
    if (!task) {
      await this.skip(log);
      return 'skipped';
    }
    if (task.persona_name === null) throw new PersonaMissingError(task.persona_id);
    const persona: PromptPersona = { name: task.persona_name, systemPrompt: task.system_prompt ?? '' };
    const model = this.config.get('LLM_MODEL') || task.model || 'default';
    const temperature = task.temperature ?? 0.7;
    const maxTokens = task.max_tokens ?? 400;
    const limits = this.guardrail.limits;

    const started = performance.now();
    let hook: string;
    let body: string;
    let tokens: number;
    let usedModel: string;
    try {
      const hookReply = await this.llm.complete(
        {
          model,
          temperature,
          maxTokens: Math.min(maxTokens, 120),
          messages: hookMessages(persona, task.task_type, task.input, limits),
          idempotencyKey: `${taskId}:hook`,
          requestId: log.requestId,
        },
        log,
      );
      hook = this.guardrail.checkHook(hookReply.text);
      const bodyReply = await this.llm.complete(
        {
          model,
          temperature,
          maxTokens,
          messages: bodyMessages(persona, task.task_type, task.input, hook, limits),
          idempotencyKey: `${taskId}:body`,
          requestId: log.requestId,
        },
        log,
      );
      body = this.guardrail.checkBody(bodyReply.text);
      tokens =
        hookReply.promptTokens +
        hookReply.completionTokens +
        bodyReply.promptTokens +
        bodyReply.completionTokens;
      usedModel = bodyReply.model;
    } catch (err) {
      if (err instanceof LlmUnavailableError) {
        await runSql(this.dataSource, UNCLAIM_SQL, [taskId, err.message]);
      }
      throw err;
    }
    const latencyMs = Math.round(performance.now() - started);

    const done = await runSql<FinishedRow>(this.dataSource, COMPLETE_SQL, [
      taskId,
      newId(),
      task.persona_id,
      hook,
      body,
      tokens,
      usedModel.slice(0, 100),
      latencyMs,
    ]);
    this.metrics.duration.observe(latencyMs / 1000);
    if (done.rows.length === 0) {
      // Another run of the same job finished first; it announced the result.
      this.logger.log({ ...log }, 'task already finished by another run; this run wrote nothing');
      return 'skipped';
    }
    this.logger.log({ ...log, latencyMs, tokens, model: usedModel }, 'task succeeded');
    await this.announce(taskId, 'succeeded', log);
    if (done.rows[0].callback_url) await this.webhooks.notify(taskId, log);
    return 'succeeded';
  }

  /**
   * Records a failed attempt: failed for good when `final`, otherwise back to queued for Bull's
   * retry. A final failure also applies to a task still queued (the attempt failed before
   * claiming it), so a job given up by Bull never leaves its task waiting forever.
   */
  async recordFailure(job: Job<RunTaskJobData>, err: Error, final: boolean): Promise<void> {
    const log = jobLogContext(job);
    const status: TaskStatus = final ? 'failed' : 'queued';
    const { rows } = await runSql<FinishedRow>(
      this.dataSource,
      `UPDATE tasks SET status = $2, last_error = $3, updated_at = now(),
         finished_at = CASE WHEN $2 = 'failed' THEN now() ELSE NULL END
       WHERE id = $1 AND (status = 'running' OR ($2 = 'failed' AND status = 'queued'))
       RETURNING callback_url`,
      [job.data.taskId, status, err.message.slice(0, 2000)],
    );
    if (final && rows.length > 0) {
      await this.announce(job.data.taskId, 'failed', log);
      if (rows[0].callback_url) await this.webhooks.notify(job.data.taskId, log);
    }
  }

  /** A deferral before the claim: tell a polling client why its task is still queued. */
  async noteDeferral(job: Job<RunTaskJobData>, err: Error): Promise<void> {
    await runSql(this.dataSource, NOTE_DEFERRAL_SQL, [job.data.taskId, err.message]);
  }

  /**
   * The task is not runnable: cancelled, already finished, or gone. When it finished, this may
   * be the re-delivery of a job whose worker died right after the status change, before the
   * webhook was queued; notifying again is a no-op when it was.
   */
  private async skip(log: JobLogContext): Promise<void> {
    const { rows } = await runSql<{ status: TaskStatus; callback_url: string | null }>(
      this.dataSource,
      'SELECT status, callback_url FROM tasks WHERE id = $1',
      [log.taskId],
    );
    const status = rows[0]?.status ?? 'gone';
    this.logger.log({ ...log, status }, 'task not runnable; skipping');
    if ((status === 'succeeded' || status === 'failed') && rows[0].callback_url) {
      await this.webhooks.notify(log.taskId, log);
    }
  }

  private async announce(taskId: string, status: TaskStatus, log: JobLogContext): Promise<void> {
    try {
      await this.queue.client.publish(taskEventsChannel(this.config.get('QUEUE_PREFIX'), taskId), status);
    } catch (err) {
      this.logger.warn({ ...log, err: String(err) }, 'could not publish task event');
    }
  }
}
