import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC_ROUTE = 'platform:public-route';

/**
 * Marks a route (or controller) as open to everyone and not rate limited: health, metrics.
 * Probes and scrapers carry no API key, and a limited probe would take a healthy pod out.
 */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC_ROUTE, true);
