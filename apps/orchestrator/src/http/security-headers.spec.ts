import { ORCHESTRATOR_HELMET_OPTIONS, securityHeaders } from './security-headers';

describe('securityHeaders', () => {
  it("computes helmet's headers for the orchestrator's policy once", () => {
    const headers = securityHeaders(ORCHESTRATOR_HELMET_OPTIONS);
    expect(headers).toMatchObject({
      'x-frame-options': 'SAMEORIGIN',
      'x-content-type-options': 'nosniff',
      'strict-transport-security': expect.stringContaining('max-age='),
      'referrer-policy': 'no-referrer',
    });
    expect(headers['content-security-policy']).toContain("default-src 'self'");
    expect(headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
    expect(headers).not.toHaveProperty('x-powered-by');
  });
});
