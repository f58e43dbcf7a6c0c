import type { Post } from '../entities/post.entity';
import type { Task } from '../entities/task.entity';
import { taskJson } from './task-json';

const task: Task = {
  id: '019abf3e-6a3c-7c1e-9d2a-5b8f0e1d2c3b',
  personaId: 'founder-voice',
  taskType: 'generate_post',
  input: { topic: 'deploys', extras: { audience: 'CTOs' } },
  status: 'succeeded',
  attempts: 2,
  lastError: null,
  tenant: 'acme',
  clientId: 'client-a',
  idempotencyKey: 'key-1',
  requestFingerprint: 'f'.repeat(64),
  requestId: 'req-1',
  callbackUrl: 'https://hooks.example/x',
  createdAt: new Date('2026-01-02T03:04:05.678Z'),
  startedAt: new Date('2026-01-02T03:04:06.000Z'),
  finishedAt: new Date('2026-01-02T03:04:07.000Z'),
  updatedAt: new Date('2026-01-02T03:04:07.000Z'),
  promptTokens: 150,
  completionTokens: 32,
  model: 'gpt-test',
};

const post: Post = {
  id: '019abf3e-6a3c-7c1e-9d2a-5b8f0e1d2c3c',
  taskId: task.id,
  personaId: 'founder-voice',
  tenant: 'acme',
  hook: 'hook',
  body: 'body',
  tokensUsed: 182,
  model: 'builtin-v1',
  latencyMs: 3,
  createdAt: new Date('2026-01-02T03:04:07.000Z'),
};

describe('taskJson', () => {
  it('shows a task as clients see it: snake_case, ISO times, the post nested, client-side fields left out', () => {
    expect(taskJson(task, post)).toEqual({
      id: task.id,
      persona_id: 'founder-voice',
      task_type: 'generate_post',
      status: 'succeeded',
      input: { topic: 'deploys', extras: { audience: 'CTOs' } },
      attempts: 2,
      last_error: null,
      request_id: 'req-1',
      callback_url: 'https://hooks.example/x',
      created_at: '2026-01-02T03:04:05.678Z',
      started_at: '2026-01-02T03:04:06.000Z',
      finished_at: '2026-01-02T03:04:07.000Z',
      updated_at: '2026-01-02T03:04:07.000Z',
      usage: { model: 'gpt-test', prompt_tokens: 150, completion_tokens: 32 },
      post: {
        id: post.id,
        task_id: task.id,
        persona_id: 'founder-voice',
        hook: 'hook',
        body: 'body',
        tokens_used: 182,
        model: 'builtin-v1',
        latency_ms: 3,
        created_at: '2026-01-02T03:04:07.000Z',
      },
    });
  });

  it('a task not started or finished yet has null times and no post', () => {
    const queued = {
      ...task,
      status: 'queued' as const,
      startedAt: null,
      finishedAt: null,
      promptTokens: null,
      completionTokens: null,
      model: null,
    };
    expect(taskJson(queued)).toMatchObject({
      status: 'queued',
      started_at: null,
      finished_at: null,
      usage: null,
      post: null,
    });
  });
});
