import type { RunTaskJobData } from '@app/platform';
import type { Job } from 'bull';

/** Fields every log line about a job carries, so one grep by task or request id finds its whole story. */
export interface JobLogContext {
  taskId: string;
  requestId: string | null;
  jobId: string;
}

export function jobLogContext(job: Job<RunTaskJobData>): JobLogContext {
  return { taskId: job.data.taskId, requestId: job.data.requestId ?? null, jobId: String(job.id) };
}
