import { InitialSchema1795730400000 } from './1795730400000-InitialSchema';
import { SeedPersonas1795730400001 } from './1795730400001-SeedPersonas';
import { Tenants1795730400040 } from './1795730400040-Tenants';

/**
 * Migrations in order. Listed explicitly (not globbed) so the same list works from
 * TypeScript sources, compiled output and tests. `npm run migration:generate` writes a new
 * file next to these; add its class here.
 */
export const migrations = [InitialSchema1795730400000, SeedPersonas1795730400001, Tenants1795730400040];
