import { InitialSchema1795730400000 } from './1795730400000-InitialSchema';
import { SeedPersonas1795730400001 } from './1795730400001-SeedPersonas';
import { ReconcilerState1795730400010 } from './1795730400010-ReconcilerState';
import { WebhookEvents1795730400020 } from './1795730400020-WebhookEvents';
import { TaskUsage1795730400030 } from './1795730400030-TaskUsage';
import { Tenants1795730400040 } from './1795730400040-Tenants';

/**
 * Migrations in order. Listed explicitly (not globbed) so the same list works from
 * TypeScript sources, compiled output and tests. `npm run migration:generate` writes a new
 * file next to these; add its class here.
 */
export const migrations = [
  InitialSchema1795730400000,
  SeedPersonas1795730400001,
  ReconcilerState1795730400010,
  WebhookEvents1795730400020,
  TaskUsage1795730400030,
  Tenants1795730400040,
];
