import { AppConfig } from '@app/platform';
import { Injectable } from '@nestjs/common';
import { GuardrailRejectedError } from './task-errors';

/**
 * Checks what the model wrote before it becomes a post: not empty, within the length limits,
 * none of the blocked terms. A rejection is permanent: the same prompt would be rejected again.
 */
@Injectable()
export class GuardrailService {
  private readonly blocklist: string[];
  private readonly hookMax: number;
  private readonly bodyMax: number;

  constructor(config: AppConfig) {
    this.blocklist = config
      .get('WORKER_GUARDRAIL_BLOCKLIST')
      .split(',')
      .map((term) => term.trim().toLowerCase())
      .filter(Boolean);
    this.hookMax = config.get('WORKER_HOOK_MAX_CHARS');
    this.bodyMax = config.get('WORKER_BODY_MAX_CHARS');
  }

  get limits(): { hookMaxChars: number; bodyMaxChars: number } {
    return { hookMaxChars: this.hookMax, bodyMaxChars: this.bodyMax };
  }

  /** Returns the hook as it will be stored: one line, without the quotes models like to add. */
  checkHook(raw: string): string {
    const hook = raw
      .replace(/\s+/g, ' ')
      .trim()
      .replace(/^["'“”]+|["'“”]+$/g, '')
      .trim();
    this.check('hook', hook, this.hookMax);
    return hook;
  }

  checkBody(raw: string): string {
    const body = raw.trim();
    this.check('body', body, this.bodyMax);
    return body;
  }

  private check(part: 'hook' | 'body', text: string, max: number): void {
    if (text.length === 0) throw new GuardrailRejectedError(`${part}: it is empty`);
    if (text.length > max) {
      throw new GuardrailRejectedError(`${part}: ${text.length} characters, the limit is ${max}`);
    }
    const lower = text.toLowerCase();
    const blocked = this.blocklist.find((term) => lower.includes(term));
    if (blocked) throw new GuardrailRejectedError(`${part}: it contains the blocked term "${blocked}"`);
  }
}
