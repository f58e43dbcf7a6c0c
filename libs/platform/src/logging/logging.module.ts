import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { AppConfig } from '../config/app-config';
import { PlatformLogger } from './platform-logger';

/**
 * Structured JSON logs through pino for every app. `app` names the process in each line. Apps
 * log through PlatformLogger (`app.useLogger(app.get(PlatformLogger))`), which keeps boot short.
 * Request logging is off here: the HTTP layer decides what it logs per request.
 */
@Module({})
export class PlatformLoggingModule {
  static forApp(app: string): DynamicModule {
    return {
      module: PlatformLoggingModule,
      imports: [
        LoggerModule.forRootAsync({
          inject: [AppConfig],
          useFactory: (config: AppConfig) => ({
            // No per-request middleware: pino-http would build a child logger for every request
            // (and run behind @fastify/middie) only to bind a request id. Request lines are
            // written by the HTTP layer's onResponse hook with the id as a field.
            forRoutes: [],
            pinoHttp: {
              level: config.get('LOG_LEVEL'),
              base: { app },
              // Never log credentials, even at debug level.
              redact: ['req.headers["x-api-key"]', 'req.headers.authorization', 'req.headers.cookie'],
            },
          }),
        }),
      ],
      providers: [PlatformLogger],
      exports: [LoggerModule, PlatformLogger],
    };
  }
}
