import { readFileSync } from 'node:fs';
import { applyDelta } from '@app/platform';
import pidusage from 'pidusage';
import { openSse, type SseStream } from '../../test/support/sse';
import { log, type BenchMode } from '../measure';

/**
 * --mode sse-streams [--streams N]: one orchestrator, one agent worker, llm-sim streaming its answers.
 * N tasks are created, then N clients follow them at once on GET /v1/tasks/{id}/events until the terminal
 * status. Figures: how many streams ended `succeeded`, how many were open at once, whether each stream's body
 * deltas add up to its post, and the orchestrator's peak RSS (target < 300 MB at 500 streams). The limiter is
 * off (one API key opens every stream); the waiter budget (LONG_POLL_MAX_WAITERS) is raised to fit N.
 */
const TARGET_RSS_MB = 300;
// Long enough (two calls a task) that every stream is open before the first task ends.
const LATENCY_MS = 5000;
const CHUNK_MS = 20;
const CREATE_CONCURRENCY = 50;

/** Peak RSS (VmHWM) of a live Linux process, in MB; 0 elsewhere. */
function peakRssMb(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

interface Outcome {
  status: string;
  deltasMatch: boolean;
  events: number;
  /** Body deltas that started below the text shown (a retried call). */
  restarts: number;
}

function outcomeOf(stream: SseStream): Outcome {
  const last = stream.events.at(-1);
  const task =
    last?.event === 'status' ? (JSON.parse(last.data) as { status: string; post?: { body: string } }) : null;
  // As a client shows them: each delta placed at its offset (a retried call starts again at 0).
  let body = '';
  let restarts = 0;
  for (const e of stream.events.filter((x) => x.event === 'delta')) {
    const d = JSON.parse(e.data) as { field: string; text: string; offset: number };
    if (d.field !== 'body') continue;
    if (d.offset < body.length) restarts++;
    body = applyDelta(body, d);
  }
  return {
    status: stream.status === 200 ? (task?.status ?? 'unfinished') : `http ${stream.status}`,
    deltasMatch: task?.post?.body === body,
    events: stream.events.length,
    restarts,
  };
}

const sseStreams: BenchMode = {
  jobs: 500,
  settings: (o) => ({
    streams: o.jobs,
    LLM_SIM_LATENCY_MS: LATENCY_MS,
    LLM_SIM_STREAM_CHUNK_MS: CHUNK_MS,
    LLM_PROVIDER: 'openai',
    RATE_LIMIT_ENABLED: 'false',
    LONG_POLL_MAX_WAITERS: Math.max(1000, o.jobs),
  }),
  async run(b) {
    const streams = b.o.jobs;
    const stack = await b.start('sse-streams', {
      api: 'orchestrator',
      workers: 1,
      llmSim: { LLM_SIM_LATENCY_MS: String(LATENCY_MS), LLM_SIM_STREAM_CHUNK_MS: String(CHUNK_MS) },
      env: {
        RATE_LIMIT_ENABLED: 'false',
        LONG_POLL_MAX_WAITERS: String(Math.max(1000, streams)),
        WORKER_DELTA_REPLAY_TTL_S: '120',
      },
    });
    const orchestrator = stack.processes().find((p) => p.name.startsWith('orchestrator'))?.pid ?? 0;
    const headers = { 'x-api-key': b.key.key };
    log(`sse-streams: ${streams} tasks, each followed from its creation (llm-sim ${LATENCY_MS} ms a call)`);
    let open = 0;
    let peakOpen = 0;
    let peakMb = 0;
    const sample = setInterval(() => {
      void pidusage(orchestrator)
        .then((s) => (peakMb = Math.max(peakMb, s.memory / 1048576, peakRssMb(orchestrator))))
        .catch(() => undefined);
    }, 200);
    const started = Date.now();
    /** Creates a task and opens its stream; resolves (once open) with the stream's outcome to come. */
    const follow = async (): Promise<{ ended: Promise<Outcome> }> => {
      const res = await fetch(`${stack.target}/v1/tasks`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ persona_id: 'founder-voice', task_type: 'generate_post', topic: 'streamed' }),
      });
      if (res.status !== 202) throw new Error(`create task: ${res.status} ${await res.text()}`);
      const { id } = (await res.json()) as { id: string };
      const stream = await openSse(`${stack.target}/v1/tasks/${id}/events`, headers);
      peakOpen = Math.max(peakOpen, ++open);
      return {
        ended: stream.ended.then(() => {
          open--;
          return outcomeOf(stream);
        }),
      };
    };
    // A few creations at a time, each followed at once; every stream stays open until its task ends.
    const pending: Promise<Outcome>[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CREATE_CONCURRENCY }, async () => {
        while (next < streams) {
          next++;
          pending.push((await follow()).ended);
        }
      }),
    );
    const outcomes = await Promise.all(pending).finally(() => clearInterval(sample));
    peakMb = Math.max(peakMb, peakRssMb(orchestrator));
    pidusage.clear();
    const seconds = (Date.now() - started) / 1000;
    await b.stopAll();

    const succeeded = outcomes.filter((o) => o.status === 'succeeded').length;
    const matching = outcomes.filter((o) => o.deltasMatch).length;
    const others = outcomes.filter((o) => o.status !== 'succeeded').map((o) => o.status);
    if (others.length) b.notes.push(`streams that did not end succeeded: ${[...new Set(others)].join(', ')}`);
    const restarted = outcomes.filter((o) => o.restarts > 0).length;
    if (restarted)
      b.notes.push(`${restarted} streams showed a retried LLM call (deltas from offset 0 again)`);
    b.notes.push(
      `${outcomes.reduce((a, o) => a + o.events, 0)} events in ${seconds.toFixed(1)} s; the rate limiter was off (one API key opens every stream)`,
    );
    b.figures.push(
      {
        name: 'streams ending with status succeeded',
        value: `${succeeded} of ${streams}`,
        target: `${streams} of ${streams}`,
        ok: succeeded === streams,
      },
      { name: 'streams open at once (peak)', value: String(peakOpen) },
      {
        name: 'streams whose body deltas add up to the post',
        value: `${matching} of ${streams}`,
        target: `${streams} of ${streams}`,
        ok: matching === streams,
      },
      {
        name: 'orchestrator peak RSS',
        value: `${peakMb.toFixed(1)} MB`,
        target: `< ${TARGET_RSS_MB} MB`,
        ok: peakMb > 0 && peakMb < TARGET_RSS_MB,
      },
    );
    log(
      `  ${succeeded}/${streams} succeeded, peak ${peakOpen} open, orchestrator peak RSS ${peakMb.toFixed(1)} MB`,
    );
    return [];
  },
};
export default sseStreams;
