import { Test } from '@nestjs/testing';
import { LoggerModule } from 'nestjs-pino';
import { Writable } from 'node:stream';
import { PlatformLogger } from './platform-logger';

/** A PlatformLogger at `level`, and the lines it writes. */
async function loggerAt(level: string): Promise<{ logger: PlatformLogger; lines: () => any[] }> {
  const written: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written.push(chunk.toString());
      done();
    },
  });
  const moduleRef = await Test.createTestingModule({
    imports: [LoggerModule.forRoot({ pinoHttp: [{ level }, stream], forRoutes: [] })],
    providers: [PlatformLogger],
  }).compile();
  return {
    logger: moduleRef.get(PlatformLogger),
    lines: () => written.map((line) => JSON.parse(line)),
  };
}

describe('PlatformLogger', () => {
  const bootLines = (logger: PlatformLogger) => {
    logger.log('TasksModule dependencies initialized', 'InstanceLoader');
    logger.log('TasksController {/v1/tasks}:', 'RoutesResolver');
    logger.log('Mapped {/v1/tasks, POST} route', 'RouterExplorer');
    logger.log('Nest application successfully started', 'NestApplication');
    logger.log({ taskId: 't1' }, 'task queued', 'TasksService');
  };

  // One logger per test file: nestjs-pino keeps its root pino instance in module state.
  it("demotes Nest's per-module and per-route boot lines to debug, out of the default (info) level", async () => {
    const { logger, lines } = await loggerAt('debug');
    bootLines(logger);
    expect(lines().map((l) => [l.level, l.context])).toEqual([
      [20, 'InstanceLoader'],
      [20, 'RoutesResolver'],
      [20, 'RouterExplorer'],
      [30, 'NestApplication'],
      [30, 'TasksService'],
    ]);
    expect(lines()[4]).toMatchObject({ taskId: 't1', msg: 'task queued' });
  });
});
