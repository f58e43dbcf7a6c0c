import { AppConfig, llmMaxInFlight } from '@app/platform';
import { Module } from '@nestjs/common';
import { Registry } from 'prom-client';
import { CircuitBreakerService } from '../breaker/circuit-breakers.service';
import { BuiltinLlmClient } from './builtin-llm.client';
import { LlmBudget } from './llm-budget';
import { LLM_CLIENT, type LlmClient } from './llm-client';
import { LlmService } from './llm.service';
import { OpenAiLlmClient } from './openai-llm.client';

@Module({
  providers: [
    CircuitBreakerService,
    {
      provide: LLM_CLIENT,
      inject: [AppConfig],
      useFactory: (config: AppConfig): LlmClient =>
        config.get('LLM_PROVIDER') === 'openai'
          ? new OpenAiLlmClient(config.get('LLM_BASE_URL'), config.get('LLM_API_KEY'), {
              connections: llmMaxInFlight(config.values),
              stream: config.get('LLM_STREAM'),
            })
          : new BuiltinLlmClient(),
    },
    {
      // One budget per endpoint, shared through Redis by every worker that calls it.
      provide: LlmBudget,
      inject: [AppConfig, LLM_CLIENT, Registry],
      useFactory: (config: AppConfig, client: LlmClient, registry: Registry) =>
        new LlmBudget(config, client.endpoint, registry),
    },
    LlmService,
  ],
  exports: [LlmService, CircuitBreakerService],
})
export class LlmModule {}
