import {
  deferTask,
  failTask,
  getTaskWithPost,
  taskJson,
  TaskWriteBatcher,
  unclaimTask,
  type TaskStatus,
} from '@app/db';
import { AppConfig, newId, taskEventsChannel, TASK_QUEUE, type RunTaskJobData } from '@app/platform';
import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger } from '@nestjs/common';
import type { Job, Queue } from 'bull';
import { performance } from 'node:perf_hooks';
import { Pool } from 'pg';
import { LlmBudgetDeferral, LlmCallCancelledError, LlmUnavailableError } from '../llm/llm.errors';
import { LlmService } from '../llm/llm.service';
import { WebhookDispatcher } from '../webhooks/webhook-dispatcher.service';
import { GuardrailService } from './guardrail.service';
import { jobLogContext, type JobLogContext } from '../common/job-log-context';
import { bodyMessages, hookMessages, type PromptPersona } from './prompts';
import { PersonaMissingError } from './task-errors';
import { TaskCancellations } from './task-cancellations';
import { TaskDeltaPublisher } from './task-deltas.publisher';
import { TaskMetrics } from './task.metrics';

export type RunOutcome = 'succeeded' | 'skipped';

/**
 * The agent pipeline for one task: claim -> persona + input -> prompts -> hook and body through
 * the LLM (behind its circuit breaker) -> guardrail -> post + succeeded in one statement.
 * The claim and the completion go through TaskWriteBatcher, which puts those of concurrent jobs
 * into one statement each; the rare writes (unclaim, failure, deferral) run on their own. Every
 * statement is a transition in @app/db.
 * Idempotent: a job run twice, even concurrently, gives one post and one status change.
 */
@Injectable()
export class TaskRunnerService {
  private readonly logger = new Logger(TaskRunnerService.name);

  constructor(
    private readonly pool: Pool,
    private readonly writes: TaskWriteBatcher,
    @InjectQueue(TASK_QUEUE) private readonly queue: Queue<RunTaskJobData>,
    private readonly config: AppConfig,
    private readonly llm: LlmService,
    private readonly guardrail: GuardrailService,
    private readonly webhooks: WebhookDispatcher,
    private readonly metrics: TaskMetrics,
    private readonly deltas: TaskDeltaPublisher,
    private readonly cancellations: TaskCancellations,
  ) {}

  async run(job: Job<RunTaskJobData>): Promise<RunOutcome> {
    const log = jobLogContext(job);
    // Checked before claiming: a job deferred here costs no attempt and no status change.
    if (!this.llm.acceptingCalls) throw new LlmUnavailableError(this.llm.breakerName);
    // Tracked before the claim, so a cancel right after it is not missed.
    const cancel = this.cancellations.track(job.data.taskId);
    try {
      return await this.runClaimed(job, log, cancel.signal);
    } catch (err) {
      if (!(err instanceof LlmCallCancelledError)) throw err;
      // The orchestrator cancelled the task (and announced it): nothing to write, no attempt failed.
      this.logger.log({ ...log }, 'task cancelled while running; its LLM call was aborted');
      return 'skipped';
    } finally {
      cancel.done();
    }
  }

  private async runClaimed(
    job: Job<RunTaskJobData>,
    log: JobLogContext,
    signal: AbortSignal,
  ): Promise<RunOutcome> {
    const { taskId } = job.data;

    const task = await this.writes.claim(taskId);
    if (!task) {
      await this.skip(log);
      return 'skipped';
    }
    this.publishStatus(taskId, log);
    if (task.personaName === null) throw new PersonaMissingError(task.personaId);
    const persona: PromptPersona = { name: task.personaName, systemPrompt: task.systemPrompt ?? '' };
    const model = this.config.get('LLM_MODEL') || task.model || 'default';
    const temperature = task.temperature ?? 0.7;
    const maxTokens = task.maxTokens ?? 400;
    const limits = this.guardrail.limits;

    const started = performance.now();
    // The model's output streams out as it comes (provisional: the guardrail has not seen it yet).
    const deltas = this.deltas.open(taskId);
    let hook: string;
    let body: string;
    let promptTokens: number;
    let completionTokens: number;
    let usedModel: string;
    try {
      const hookReply = await this.llm.complete(
        {
          model,
          temperature,
          maxTokens: Math.min(maxTokens, 120),
          messages: hookMessages(persona, task.taskType, task.input, limits),
          idempotencyKey: `${taskId}:hook`,
          requestId: log.requestId,
          onDelta: (text, offset) => deltas.push('hook', text, offset),
          signal,
        },
        log,
      );
      deltas.flush();
      hook = this.guardrail.checkHook(hookReply.text);
      const bodyReply = await this.llm.complete(
        {
          model,
          temperature,
          maxTokens,
          messages: bodyMessages(persona, task.taskType, task.input, hook, limits),
          idempotencyKey: `${taskId}:body`,
          requestId: log.requestId,
          onDelta: (text, offset) => deltas.push('body', text, offset),
          // The hook is paid for: wait for budget rather than defer the job and ask for it again.
          deferOnLongWait: false,
          signal,
        },
        log,
      );
      deltas.flush();
      body = this.guardrail.checkBody(bodyReply.text);
      promptTokens = hookReply.promptTokens + bodyReply.promptTokens;
      completionTokens = hookReply.completionTokens + bodyReply.completionTokens;
      usedModel = bodyReply.model;
    } catch (err) {
      if (err instanceof LlmUnavailableError || err instanceof LlmBudgetDeferral) {
        // A breaker or budget deferral is not an attempt: give back the claim's attempt and wait in the queue.
        if (await unclaimTask(this.pool, { id: taskId, reason: err.message }))
          this.publishStatus(taskId, log);
      }
      throw err;
    } finally {
      deltas.flush();
    }
    signal.throwIfAborted();
    const latencyMs = Math.round(performance.now() - started);
    const tokens = promptTokens + completionTokens;
    const recordedModel = usedModel.slice(0, 100);

    const done = await this.writes.complete({
      id: newId(),
      taskId,
      personaId: task.personaId,
      hook,
      body,
      tokensUsed: tokens,
      model: recordedModel,
      latencyMs,
      promptTokens,
      completionTokens,
    });
    this.metrics.duration.observe(latencyMs / 1000);
    if (!done) {
      // Another run of the same job finished first; it announced the result.
      this.logger.log({ ...log }, 'task already finished by another run; this run wrote nothing');
      return 'skipped';
    }
    // Counted for the run that recorded them, so a task counts once however often its job ran.
    this.metrics.tokens.inc({ model: recordedModel, kind: 'prompt' }, promptTokens);
    this.metrics.tokens.inc({ model: recordedModel, kind: 'completion' }, completionTokens);
    this.logger.log({ ...log, latencyMs, tokens, model: usedModel }, 'task succeeded');
    this.publishStatus(taskId, log);
    await this.announce(taskId, 'succeeded', log);
    // The completion wrote the webhook event; send it now rather than at the next dispatch tick.
    if (done.callbackUrl) this.webhooks.kick();
    return 'succeeded';
  }

  /**
   * Records a failed attempt: failed for good when `final`, otherwise back to queued for Bull's
   * retry. A final failure also applies to a task still queued (the attempt failed before
   * claiming it), so a job given up by Bull never leaves its task waiting forever.
   */
  async recordFailure(job: Job<RunTaskJobData>, err: Error, final: boolean): Promise<void> {
    const log = jobLogContext(job);
    const failed = await failTask(this.pool, {
      id: job.data.taskId,
      error: err.message.slice(0, 2000),
      final,
    });
    if (failed) this.publishStatus(job.data.taskId, log);
    if (final && failed) {
      await this.announce(job.data.taskId, 'failed', log);
      if (failed.callbackUrl) this.webhooks.kick();
    }
  }

  /** A deferral before the claim: tell a polling client why its task is still queued. */
  async noteDeferral(job: Job<RunTaskJobData>, err: Error): Promise<void> {
    await deferTask(this.pool, { id: job.data.taskId, reason: err.message });
  }

  /**
   * The task is not runnable: cancelled, already finished, or gone. Its webhook event, if any,
   * was written with its terminal transition and is dispatched from the outbox.
   */
  private async skip(log: JobLogContext): Promise<void> {
    const task = (await getTaskWithPost(this.pool, { id: log.taskId, tenant: null }))?.task;
    this.logger.log({ ...log, status: task?.status ?? 'gone' }, 'task not runnable; skipping');
  }

  /**
   * Publishes the task JSON after a transition, for the task's event streams. Read back in one
   * statement rather than rebuilt here, so it is exactly what GET shows; not awaited (the run does
   * not wait for its viewers), so consumers order status messages by updated_at, not by arrival.
   */
  private publishStatus(taskId: string, log: JobLogContext): void {
    getTaskWithPost(this.pool, { id: taskId, tenant: null })
      .then((found) => {
        if (found) this.deltas.status(taskJson(found.task, found.post));
      })
      .catch((err: unknown) =>
        this.logger.warn({ ...log, err: String(err) }, 'could not publish the status event'),
      );
  }

  private async announce(taskId: string, status: TaskStatus, log: JobLogContext): Promise<void> {
    try {
      await this.queue.client.publish(taskEventsChannel(this.config.get('QUEUE_PREFIX'), taskId), status);
    } catch (err) {
      this.logger.warn({ ...log, err: String(err) }, 'could not publish task event');
    }
  }
}
