import { loadConfig } from '@app/platform';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './data-source.options';

/** Entry point for the TypeORM CLI (`npm run migration:*`). */
export default new DataSource(buildDataSourceOptions(loadConfig(), 'agent-platform-cli'));
