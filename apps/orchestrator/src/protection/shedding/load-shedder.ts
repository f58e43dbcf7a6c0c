import { AppConfig } from '@app/platform';
import { Injectable } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Gauge, Registry } from 'prom-client';
import { HttpMetrics } from '../../observability/http.metrics';
import { isOperationalRoute } from '../../common/operational-routes';

const TASK_ROUTE = '/v1/tasks/:id';
const TASK_EVENTS_ROUTE = '/v1/tasks/:id/events';
export const SHED_RETRY_AFTER_S = 1;

/**
 * At most MAX_IN_FLIGHT requests are served at once by this replica. The next one waits in a
 * first-in first-out queue for a slot, for MAX_IN_FLIGHT_QUEUE_MS at most, and then gets 503 +
 * Retry-After; with MAX_IN_FLIGHT already waiting, the 503 is immediate. All of it happens in a
 * Fastify onRequest hook: before the body is read, before auth, the limiter or the database. The
 * answer is a pre-serialized string.
 *
 * The short wait is what tells a pause from an overload: a replica that stops for a GC or a
 * database checkpoint catches up in a few hundred milliseconds, and the requests that arrived
 * meanwhile are served; a replica that cannot keep up keeps its queue full and sheds.
 *
 * Long-polls (GET /v1/tasks/:id?wait=N) and task event streams (GET /v1/tasks/:id/events) are not counted. While waiting they hold no database
 * connection (one short read every LONG_POLL_RECHECK_MS), so counting them would let 150 clients
 * that long-poll starve an instance with MAX_IN_FLIGHT=100 of every other request while it is
 * idle. Their reads are bounded by the pool like any other; they get their own gauge, and their
 * own budget (LONG_POLL_MAX_WAITERS, the tasks feature's WaiterBudget, taken after authentication).
 *
 * A slot is held until the response closes. A client that sends its headers and then stalls its
 * body holds one until HTTP_REQUEST_TIMEOUT_MS, when Node answers 408 and closes the connection
 * (http/http-edge.ts).
 */
@Injectable()
export class LoadShedder {
  readonly max: number;
  readonly queueMs: number;
  private inFlight = 0;
  private longPolls = 0;
  private readonly waiting = new Set<Waiter>();
  private readonly body: string;

  constructor(
    config: AppConfig,
    registry: Registry,
    private readonly metrics: HttpMetrics,
  ) {
    this.max = config.get('MAX_IN_FLIGHT');
    this.queueMs = config.get('MAX_IN_FLIGHT_QUEUE_MS');
    this.body = JSON.stringify({
      statusCode: 503,
      error: 'Service Unavailable',
      message: `This replica is serving its maximum of ${this.max} requests at once; retry after ${SHED_RETRY_AFTER_S} s`,
    });
    const snapshot = () => this.snapshot();
    new Gauge({
      name: 'http_requests_in_flight',
      help: 'Requests being served now, counted against MAX_IN_FLIGHT (long-polls excluded).',
      registers: [registry],
      collect() {
        this.set(snapshot().inFlight);
      },
    });
    new Gauge({
      name: 'http_requests_waiting',
      help: 'Requests waiting for a MAX_IN_FLIGHT slot now (for MAX_IN_FLIGHT_QUEUE_MS at most).',
      registers: [registry],
      collect() {
        this.set(snapshot().waiting);
      },
    });
    new Gauge({
      name: 'http_long_polls_in_flight',
      help: 'Long-polls (GET /v1/tasks/:id?wait=N) and task event streams open now; not counted against MAX_IN_FLIGHT.',
      registers: [registry],
      collect() {
        this.set(snapshot().longPolls);
      },
    });
    new Gauge({
      name: 'http_requests_max_in_flight',
      help: 'MAX_IN_FLIGHT of this replica (0 = shedding off).',
      registers: [registry],
      collect() {
        this.set(snapshot().max);
      },
    });
  }

  snapshot(): { inFlight: number; waiting: number; longPolls: number; max: number; shedding: boolean } {
    return {
      inFlight: this.inFlight,
      waiting: this.waiting.size,
      longPolls: this.longPolls,
      max: this.max,
      shedding: this.max > 0 && this.inFlight >= this.max,
    };
  }

  /** Adds the onRequest hook; call before any other hook so a shed request costs nothing else. */
  install(fastify: FastifyInstance): void {
    fastify.addHook('onRequest', (request, reply, done) => {
      const route = request.routeOptions.url;
      if (isOperationalRoute(route)) return done();
      if ((route === TASK_ROUTE && isLongPoll(request)) || route === TASK_EVENTS_ROUTE) {
        this.longPolls++;
        reply.raw.once('close', this.endLongPoll);
        return done();
      }
      if (this.max > 0 && this.inFlight >= this.max) {
        if (this.queueMs > 0 && this.waiting.size < this.max) this.wait(reply, done);
        else this.shedOne(reply);
        return;
      }
      this.admit(reply, done);
    });
  }

  private admit(reply: FastifyReply, done: () => void): void {
    this.inFlight++;
    // 'close' fires once per response, also when the client went away before it was sent.
    reply.raw.once('close', this.release);
    done();
  }

  private wait(reply: FastifyReply, done: () => void): void {
    const waiter: Waiter = {
      reply,
      done,
      timer: setTimeout(() => {
        this.leave(waiter);
        this.shedOne(reply);
      }, this.queueMs),
      gone: () => this.leave(waiter),
    };
    this.waiting.add(waiter);
    reply.raw.once('close', waiter.gone);
  }

  private leave(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    waiter.reply.raw.off('close', waiter.gone);
    this.waiting.delete(waiter);
  }

  private shedOne(reply: FastifyReply): void {
    this.metrics.shed.inc();
    void reply
      .code(503)
      .header('Retry-After', String(SHED_RETRY_AFTER_S))
      .type('application/json; charset=utf-8')
      .send(this.body);
  }

  private readonly release = (): void => {
    this.inFlight--;
    // A Set iterates in insertion order: the longest waiter gets the slot.
    const next = this.waiting.values().next();
    if (next.done) return;
    this.leave(next.value);
    this.admit(next.value.reply, next.value.done);
  };

  private readonly endLongPoll = (): void => {
    this.longPolls--;
  };
}

interface Waiter {
  reply: FastifyReply;
  done: () => void;
  timer: NodeJS.Timeout;
  /** The client went away while waiting: forget it, without a slot or an answer. */
  gone: () => void;
}

function isLongPoll(request: FastifyRequest): boolean {
  if (request.method !== 'GET') return false;
  const wait = (request.query as Record<string, unknown> | undefined)?.wait;
  return typeof wait === 'string' && wait !== '' && wait !== '0';
}
