import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { executeRun, measureFloor } from './run';
import { parseScenarioFile, resolveScenario } from './scenario';
import { followViaApi } from './tasks-check';

const scenario = resolveScenario(
  parseScenarioFile({
    name: 'tiny',
    description: 'one user for a moment',
    stages: [{ duration: '1s', target: 2 }],
    thinkTime: { success: 0.05, other: 0.05 },
    requests: [
      { name: 'create_task', weight: 1, method: 'POST', path: '/v1/tasks', createsTask: true, expect: [202] },
    ],
    gracefulStop: '1s',
  }),
);

/** A server that is live but is not the agent-platform API: every path answers 200 with `body`. */
async function impostor(body: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end(body),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('a target that does not answer like the API', () => {
  it('is refused before the load with a message that says so', async () => {
    const { url, server } = await impostor('{"hello":"world"}');
    try {
      const run = executeRun({
        scenario,
        target: url,
        apiKeys: [],
        mode: 'run',
        command: 'test',
        log: () => undefined,
      });
      await expect(run).rejects.toThrow(
        `target ${url} does not answer like the agent-platform API: GET /v1/tasks?limit=1 answered 200`,
      );
    } finally {
      server.close();
    }
  });

  it('fails the end-to-end check with that message too, not with a TypeError', async () => {
    const { url, server } = await impostor('{"data":{"not":"a list"}}');
    try {
      const follow = followViaApi({
        target: url,
        accepted: [{ id: 'a', acceptedAtMs: 1 }],
        duplicateAccepts: 0,
        deadlineMs: Date.now() + 5000,
        log: () => undefined,
        persona: 'p',
        runStartedAt: new Date(),
      });
      await expect(follow).rejects.toThrow(
        /does not answer like the agent-platform API: GET \/v1\/tasks answered 200 without a data array/,
      );
    } finally {
      server.close();
    }
  });
});

describe("the generator's floor", () => {
  it('plays the profile against a null target in a process of its own', async () => {
    const floor = await measureFloor(scenario, { log: () => undefined });
    expect(floor.errors).toBe(0);
    expect(floor.latencyMs.count).toBeGreaterThan(0);
    expect(floor.rps).toBeGreaterThan(0);
    expect(floor.efficiency).not.toBeNull();
    expect(floor.loopLagMs.max).toBeGreaterThanOrEqual(floor.loopLagMs.p50);
  });
});
