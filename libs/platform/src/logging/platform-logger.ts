import { Injectable } from '@nestjs/common';
import { Logger } from 'nestjs-pino';

/**
 * Nest's own boot chatter: a line per module (InstanceLoader), per controller (RoutesResolver) and
 * per route (RouterExplorer). About fifty lines before the first one that matters; at debug level
 * they are still there for whoever wants them.
 */
export const BOOT_DETAIL_CONTEXTS: ReadonlySet<string> = new Set([
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
]);

/** nestjs-pino's Logger, with Nest's per-module and per-route boot lines demoted to debug. */
@Injectable()
export class PlatformLogger extends Logger {
  override log(message: unknown, ...optionalParams: unknown[]): void {
    const context = optionalParams[optionalParams.length - 1];
    if (typeof context === 'string' && BOOT_DETAIL_CONTEXTS.has(context)) {
      super.debug(message, ...optionalParams);
    } else {
      super.log(message, ...optionalParams);
    }
  }
}
