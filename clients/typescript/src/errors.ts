import type { components } from './schema';

export type ErrorBody = components['schemas']['ErrorBody'];

/** A non-2xx answer of the API, with its error body and the request id to quote. */
export class AgentPlatformError extends Error {
  readonly status: number;
  readonly body: ErrorBody | undefined;
  readonly requestId: string | null;

  constructor(response: Response, body: unknown) {
    const error = isErrorBody(body) ? body : undefined;
    super(`${response.status} ${error?.error ?? response.statusText}: ${error?.message ?? 'no error body'}`);
    this.name = 'AgentPlatformError';
    this.status = response.status;
    this.body = error;
    this.requestId = response.headers.get('x-request-id');
  }
}

function isErrorBody(body: unknown): body is ErrorBody {
  return typeof body === 'object' && body !== null && 'statusCode' in body && 'message' in body;
}

/** waitForTask gave up before the task reached a terminal status; `task` is its last state. */
export class TaskWaitTimeoutError extends Error {
  constructor(readonly task: components['schemas']['TaskDto']) {
    super(`task ${task.id} is still ${task.status}`);
    this.name = 'TaskWaitTimeoutError';
  }
}
