/** Webhook deliveries have their own Bull queue: their retries never hold up task processing. */
export const WEBHOOK_QUEUE = 'task-webhooks';
export const DELIVER_WEBHOOK_JOB = 'deliver';
export const WEBHOOK_BACKOFF_STRATEGY = 'webhook-backoff';
/** Cap on one webhook retry delay. */
export const WEBHOOK_BACKOFF_MAX_MS = 60 * 60 * 1000;

export interface WebhookJobData {
  /**
   * The outbox event's id (webhook_events.id, a uuid): one per terminal state the task reaches (a
   * retried task that fails again is a new event), never per delivery attempt. It is the job id,
   * so queueing an event twice is a no-op, and the webhook-id header of every try.
   */
  eventId: string;
  taskId: string;
  requestId: string | null;
  url: string;
  /** The exact JSON sent; the signature covers these bytes. */
  body: string;
}
