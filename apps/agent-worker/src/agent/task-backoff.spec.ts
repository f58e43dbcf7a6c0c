import { AppConfig, loadConfig } from '@app/platform';
import { taskBackoff } from './task-backoff';
import { BreakerOpenDeferral, RetryableAttemptError } from './task-errors';

describe('task backoff strategy', () => {
  const strategy = taskBackoff(
    new AppConfig(
      loadConfig({
        WORKER_BACKOFF_BASE_MS: '1000',
        WORKER_BACKOFF_MAX_MS: '60000',
        LLM_BREAKER_RESET_TIMEOUT_MS: '10000',
      }),
    ),
  );

  it('waits at least the breaker reset timeout for a deferral, whatever attemptsMade says', () => {
    for (let i = 0; i < 20; i++) {
      const delay = strategy(1, new BreakerOpenDeferral('open'));
      expect(delay).toBeGreaterThanOrEqual(10000);
      expect(delay).toBeLessThanOrEqual(15000);
    }
  });

  it('backs off on the real attempt number (deferrals excluded), not on attemptsMade', () => {
    // attemptsMade 7 = 6 deferrals + 1 real failure: the delay is the first retry's.
    const delay = strategy(7, new RetryableAttemptError('503', 1, null));
    expect(delay).toBeGreaterThanOrEqual(500);
    expect(delay).toBeLessThanOrEqual(1000);
  });

  it('never retries sooner than the downstream asked', () => {
    expect(strategy(1, new RetryableAttemptError('429', 1, 30000))).toBe(30000);
  });

  it('falls back to exponential on attemptsMade for any other error', () => {
    const delay = strategy(3, new Error('unexpected'));
    expect(delay).toBeGreaterThanOrEqual(2000);
    expect(delay).toBeLessThanOrEqual(4000);
  });
});
