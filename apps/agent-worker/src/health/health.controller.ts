import { Controller, Get } from '@nestjs/common';

/** Liveness only: the process answers. Dependency checks belong in readiness, never here. */
@Controller('health')
export class HealthController {
  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }
}
