import { AppConfig, loadConfig } from '@app/platform';
import { GuardrailService } from './guardrail.service';
import { GuardrailRejectedError, PermanentTaskError } from './task-errors';

describe('GuardrailService', () => {
  const guardrail = new GuardrailService(
    new AppConfig(
      loadConfig({
        WORKER_GUARDRAIL_BLOCKLIST: 'Crypto Moon, guaranteed returns,',
        WORKER_HOOK_MAX_CHARS: '40',
        WORKER_BODY_MAX_CHARS: '100',
      }),
    ),
  );

  it('returns the hook on one line, without the quotes models like to add', () => {
    expect(guardrail.checkHook('  "Ship it\n on Friday?"  ')).toBe('Ship it on Friday?');
  });

  it('rejects blocked terms case-insensitively, naming the term and the part', () => {
    expect(() => guardrail.checkBody('Our CRYPTO moon plan')).toThrow(
      new GuardrailRejectedError('body: it contains the blocked term "crypto moon"'),
    );
    expect(() => guardrail.checkHook('Guaranteed Returns!')).toThrow(
      'guardrail rejected the hook: it contains the blocked term "guaranteed returns"',
    );
  });

  it('rejects empty and over-long output with the numbers', () => {
    expect(() => guardrail.checkHook(' "" ')).toThrow('guardrail rejected the hook: it is empty');
    expect(() => guardrail.checkHook('x'.repeat(41))).toThrow(
      'guardrail rejected the hook: 41 characters, the limit is 40',
    );
    expect(() => guardrail.checkBody('y'.repeat(101))).toThrow(
      'guardrail rejected the body: 101 characters, the limit is 100',
    );
  });

  it('a rejection is a permanent failure', () => {
    try {
      guardrail.checkBody('');
    } catch (err) {
      expect(err).toBeInstanceOf(PermanentTaskError);
      return;
    }
    throw new Error('expected a rejection');
  });

  it('lets ordinary text through unchanged', () => {
    expect(guardrail.checkBody('  Two short paragraphs.\n\nThat is all.  ')).toBe(
      'Two short paragraphs.\n\nThat is all.',
    );
  });
});
