import { loadConfig } from '@app/platform';
import { knobsFromEnv } from './knobs';
import { buildLlmSim } from './llm-sim';

async function main(): Promise<void> {
  const env = loadConfig();
  const { app, knobs } = buildLlmSim(knobsFromEnv(env), env.LOG_LEVEL);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      // Hanging "timeout" requests would hold close() open; the simulator has nothing to drain.
      app.server.closeAllConnections();
      void app.close().then(() => process.exit(0));
    });
  }
  await app.listen({ port: env.LLM_SIM_PORT, host: env.HTTP_HOST });
  app.log.info({ knobs: knobs() }, 'llm-sim ready');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
