/**
 * What an agent can be asked to do. `generate_post` writes one post (hook + body);
 * `generate_thread` writes a hook and a body of short numbered parts.
 */
export const TASK_TYPES = ['generate_post', 'generate_thread'] as const;
export type TaskType = (typeof TASK_TYPES)[number];
