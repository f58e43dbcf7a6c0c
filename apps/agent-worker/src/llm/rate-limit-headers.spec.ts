import { parseResetDuration, readRateLimitHeaders, slowDownMs } from './rate-limit-headers';

const headers = (values: Record<string, string>) => (name: string) => values[name] ?? null;

describe('provider rate-limit headers', () => {
  it.each([
    ['1s', 1000],
    ['6m0s', 360000],
    ['20ms', 20],
    ['1h2m3.5s', 3723500],
    ['2', 2000],
    ['0.5', 500],
  ])('reads the reset %s as %i ms', (text, ms) => expect(parseResetDuration(text)).toBe(ms));

  it.each(['', 'soon', '5 minutes', '1x'])('ignores an unreadable reset %p', (text) =>
    expect(parseResetDuration(text)).toBeNull(),
  );

  it('reads the OpenAI header set', () => {
    expect(
      readRateLimitHeaders(
        headers({
          'x-ratelimit-limit-requests': '1200',
          'x-ratelimit-remaining-requests': '1150',
          'x-ratelimit-reset-requests': '2.5s',
          'x-ratelimit-limit-tokens': '90000',
          'x-ratelimit-remaining-tokens': 'lots',
        }),
      ),
    ).toEqual({
      limitRequests: 1200,
      remainingRequests: 1150,
      resetRequestsMs: 2500,
      limitTokens: 90000,
      remainingTokens: null,
      resetTokensMs: null,
    });
  });

  it('does not slow down while plenty remains, or when the headers are missing', () => {
    const plenty = readRateLimitHeaders(
      headers({
        'x-ratelimit-limit-requests': '1200',
        'x-ratelimit-remaining-requests': '100',
        'x-ratelimit-reset-requests': '5s',
      }),
    );
    expect(slowDownMs(plenty, 500)).toBe(0);
    expect(slowDownMs(readRateLimitHeaders(headers({})), 500)).toBe(0);
  });

  it('spreads what remains over the time to the reset once it is at 5% of the limit or below', () => {
    const low = readRateLimitHeaders(
      headers({
        'x-ratelimit-limit-requests': '1200',
        'x-ratelimit-remaining-requests': '50',
        'x-ratelimit-reset-requests': '10s',
      }),
    );
    expect(slowDownMs(low, 500)).toBe(200);
    const none = readRateLimitHeaders(
      headers({
        'x-ratelimit-limit-requests': '1200',
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-reset-requests': '3s',
      }),
    );
    expect(slowDownMs(none, 500)).toBe(3000);
    const tokens = readRateLimitHeaders(
      headers({
        'x-ratelimit-limit-tokens': '100000',
        'x-ratelimit-remaining-tokens': '2000',
        'x-ratelimit-reset-tokens': '6s',
      }),
    );
    expect(slowDownMs(tokens, 500)).toBe(1500);
  });
});
