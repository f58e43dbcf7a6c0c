import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';
import { simulatedCompletion, type SimCompletion, type SimMessage } from './completion';
import { knobsPatchSchema, type Knobs } from './knobs';
import { RpmLimiter } from './rpm-limit';

/** A "timeout" request is held at most this long, then its socket is destroyed. */
const HANG_MAX_MS = 10 * 60 * 1000;
/** Recent requests kept for GET /admin/stats (tests read idempotency keys and timings from it). */
const RECENT_MAX = 1000;

export type Outcome = 'ok' | 'error' | 'rate_limited' | 'timeout' | 'outage' | 'invalid' | 'broken';

export interface RecentRequest {
  at: number;
  idempotencyKey: string | null;
  requestId: string | null;
  outcome: Outcome;
  status: number | null;
  /** The client went away before an answer (e.g. its timeout aborted the request). */
  aborted: boolean;
}

export interface SimStats {
  requests: number;
  inFlight: number;
  aborted: number;
  byOutcome: Record<Outcome, number>;
  recent: RecentRequest[];
}

function emptyStats(): SimStats {
  return {
    requests: 0,
    inFlight: 0,
    aborted: 0,
    byOutcome: { ok: 0, error: 0, rate_limited: 0, timeout: 0, outage: 0, invalid: 0, broken: 0 },
    recent: [],
  };
}

interface ChatBody {
  model?: unknown;
  messages?: unknown;
  stream?: unknown;
  stream_options?: { include_usage?: unknown } | null;
}

/** Pieces of about a word each that add up exactly to `content`: the chunks of a streamed answer. */
export function streamPieces(content: string): string[] {
  return content.match(/\S+\s*|\s+/g) ?? [];
}

/**
 * Streams a completion the way OpenAI does (server-sent events of chat.completion.chunk objects,
 * the usage in a last chunk when asked for, then [DONE]), `chunkMs` apart; with `breakAfter` set,
 * the connection is destroyed after that many content chunks, before [DONE]. Resolves false when
 * the client went away first.
 */
async function streamCompletion(
  res: ServerResponse,
  o: {
    completion: SimCompletion;
    model: string;
    created: number;
    includeUsage: boolean;
    chunkMs: number;
    breakAfter: number | null;
    headers: Record<string, string>;
  },
): Promise<boolean> {
  if (res.destroyed) return false;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    ...o.headers,
  });
  const chunk = (choices: unknown[], usage: unknown = null) =>
    `data: ${JSON.stringify({
      id: o.completion.id,
      object: 'chat.completion.chunk',
      created: o.created,
      model: o.model,
      choices,
      ...(o.includeUsage ? { usage } : {}),
    })}\n\n`;
  const delta = (d: Record<string, string>, finish: string | null = null) =>
    chunk([{ index: 0, delta: d, finish_reason: finish }]);
  res.write(delta({ role: 'assistant', content: '' }));
  const pieces = streamPieces(o.completion.content);
  for (const [i, piece] of pieces.entries()) {
    if (o.breakAfter !== null && i >= o.breakAfter) {
      // What was written reaches the client first; then the connection drops, mid-answer.
      await new Promise<void>((resolve) => res.write('', () => resolve()));
      res.destroy();
      return true;
    }
    if (i > 0 && o.chunkMs > 0 && !(await waitUnlessGone(res, o.chunkMs))) return false;
    res.write(delta({ content: piece }));
  }
  res.write(delta({}, 'stop'));
  if (o.includeUsage) {
    const { promptTokens, completionTokens } = o.completion;
    res.write(
      chunk([], {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
      }),
    );
  }
  res.end('data: [DONE]\n\n');
  return true;
}

function isMessages(value: unknown): value is SimMessage[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every(
      (m) =>
        typeof m === 'object' && m !== null && typeof m.role === 'string' && typeof m.content === 'string',
    )
  );
}

/** Resolves true after `ms`, or false as soon as the client goes away. */
function waitUnlessGone(res: ServerResponse, ms: number): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(true);
    }, ms);
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    res.once('close', onClose);
  });
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

const openAiError = (message: string, type: string) => ({ error: { message, type, code: null } });

/**
 * llm-sim: an OpenAI-compatible Chat Completions simulator for tests, load tests and compose.
 * Replies are deterministic for a given model + messages, streamed when the request says
 * `stream: true`; faults are random, by the knobs: full outage (503), timeouts (no answer until
 * the client gives up), 429 with Retry-After, error statuses, latency (mean +- jitter), and
 * streams cut off mid-way; and a real requests-a-minute limit (rpmLimit). GET /metrics counts
 * the requests by status. The admin endpoints have no auth: llm-sim is a
 * test tool and must never be exposed.
 */
export function buildLlmSim(initial: Knobs, logLevel = 'info'): { app: FastifyInstance; knobs: () => Knobs } {
  let knobs: Knobs = { ...initial };
  let stats = emptyStats();
  let limiter = initial.rpmLimit > 0 ? new RpmLimiter(initial.rpmLimit) : null;
  // Labelled with the app's name like the platform's own metrics, with the process metrics too.
  const registry = new Registry();
  registry.setDefaultLabels({ app: 'llm-sim' });
  collectDefaultMetrics({ register: registry });
  const requestsByStatus = new Counter({
    name: 'llm_sim_requests_total',
    help: 'Chat completion requests answered, by HTTP status ("none": never answered or cut off) and outcome.',
    labelNames: ['status', 'outcome'],
    registers: [registry],
  });
  const app = Fastify({
    logger: { level: logLevel, base: { app: 'llm-sim' } },
    bodyLimit: 1024 * 1024,
  });

  const record = (entry: RecentRequest) => {
    requestsByStatus.inc({
      status: entry.status === null || entry.outcome === 'broken' ? 'none' : String(entry.status),
      outcome: entry.outcome,
    });
    stats.byOutcome[entry.outcome] += 1;
    if (entry.aborted) stats.aborted += 1;
    stats.recent.push(entry);
    if (stats.recent.length > RECENT_MAX) stats.recent.shift();
  };

  // Per-request access logs would drown everything at load-test rates: routes log at warn.
  const quiet = { logLevel: 'warn' as const };

  app.post('/v1/chat/completions', quiet, async (request, reply: FastifyReply) => {
    // Answered on the raw response: a request may hang until its client aborts, which Fastify's
    // own reply lifecycle is not made for.
    reply.hijack();
    const res = reply.raw;
    const header = (name: string) => {
      const v = request.headers[name];
      return typeof v === 'string' ? v : null;
    };
    const entry: RecentRequest = {
      at: Date.now(),
      idempotencyKey: header('idempotency-key'),
      requestId: header('x-request-id'),
      outcome: 'ok',
      status: null,
      aborted: false,
    };
    stats.requests += 1;
    stats.inFlight += 1;
    try {
      const body = (request.body ?? {}) as ChatBody;
      if (typeof body.model !== 'string' || !isMessages(body.messages)) {
        entry.outcome = 'invalid';
        entry.status = 400;
        sendJson(
          res,
          400,
          openAiError(
            'model (string) and messages ([{role, content}], not empty) are required',
            'invalid_request_error',
          ),
        );
        return;
      }
      const k = knobs;
      if (k.outage) {
        entry.outcome = 'outage';
        entry.status = 503;
        sendJson(res, 503, openAiError('simulated outage', 'server_error'));
        return;
      }
      // A provider's limiter answers at once, before the model is involved.
      const decision = limiter?.take();
      const limitHeaders = decision?.headers ?? {};
      if (decision && !decision.allowed) {
        entry.outcome = 'rate_limited';
        entry.status = 429;
        sendJson(res, 429, openAiError(`rate limit of ${knobs.rpmLimit} requests a minute`, 'requests'), {
          'retry-after': String(decision.retryAfterS),
          ...limitHeaders,
        });
        return;
      }
      if (Math.random() < k.timeoutRate) {
        entry.outcome = 'timeout';
        const answered = await waitUnlessGone(res, HANG_MAX_MS);
        entry.aborted = !answered;
        if (answered) res.destroy();
        return;
      }
      const jitter = k.jitterMs ? (Math.random() * 2 - 1) * k.jitterMs : 0;
      if (!(await waitUnlessGone(res, Math.max(0, Math.round(k.latencyMs + jitter))))) {
        entry.aborted = true;
        return;
      }
      if (Math.random() < k.rateLimitRate) {
        entry.outcome = 'rate_limited';
        entry.status = 429;
        sendJson(res, 429, openAiError('simulated rate limit', 'rate_limit_exceeded'), {
          'retry-after': String(k.retryAfterS),
        });
        return;
      }
      if (Math.random() < k.errorRate) {
        const status = k.errorStatus[Math.floor(Math.random() * k.errorStatus.length)];
        entry.outcome = 'error';
        entry.status = status;
        sendJson(
          res,
          status,
          openAiError(`simulated error ${status}`, status >= 500 ? 'server_error' : 'invalid_request_error'),
        );
        return;
      }
      const completion = simulatedCompletion(body.model, body.messages);
      entry.status = 200;
      if (body.stream === true) {
        const pieces = streamPieces(completion.content).length;
        const breaks = pieces >= 2 && Math.random() < k.streamBreakRate;
        if (breaks) entry.outcome = 'broken';
        entry.aborted = !(await streamCompletion(res, {
          completion,
          model: body.model,
          created: Math.floor(entry.at / 1000),
          includeUsage: body.stream_options?.include_usage === true,
          chunkMs: k.streamChunkMs,
          // At least one content chunk goes out, and never the last: the client sees a partial answer.
          breakAfter: breaks ? Math.max(1, Math.floor(pieces / 2)) : null,
          headers: limitHeaders,
        }));
        return;
      }
      sendJson(
        res,
        200,
        {
          id: completion.id,
          object: 'chat.completion',
          created: Math.floor(entry.at / 1000),
          model: body.model,
          choices: [
            { index: 0, message: { role: 'assistant', content: completion.content }, finish_reason: 'stop' },
          ],
          usage: {
            prompt_tokens: completion.promptTokens,
            completion_tokens: completion.completionTokens,
            total_tokens: completion.promptTokens + completion.completionTokens,
          },
        },
        limitHeaders,
      );
    } finally {
      stats.inFlight -= 1;
      record(entry);
    }
  });

  app.get('/health/live', quiet, async () => ({ status: 'ok' }));

  app.get('/admin/knobs', quiet, async () => knobs);
  app.patch('/admin/knobs', quiet, async (request, reply) => {
    const parsed = knobsPatchSchema.safeParse(request.body ?? {});
    if (!parsed.success) {
      return reply.status(400).send({
        statusCode: 400,
        error: 'Bad Request',
        message: 'invalid knobs',
        details: parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', reason: i.message })),
      });
    }
    if (parsed.data.rpmLimit !== undefined && parsed.data.rpmLimit !== knobs.rpmLimit) {
      limiter = parsed.data.rpmLimit > 0 ? new RpmLimiter(parsed.data.rpmLimit) : null;
    }
    knobs = { ...knobs, ...parsed.data };
    app.log.info({ knobs }, 'knobs changed');
    return knobs;
  });
  app.get('/admin/stats', quiet, async () => stats);
  app.get('/metrics', quiet, async (_request, reply) => {
    void reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  app.post('/admin/stats/reset', quiet, async () => {
    const inFlight = stats.inFlight;
    stats = { ...emptyStats(), inFlight };
    return stats;
  });

  return { app, knobs: () => knobs };
}
