import { AppConfig, llmMaxInFlight } from '@app/platform';
import { Module } from '@nestjs/common';
import { CircuitBreakerService } from '../breaker/circuit-breakers.service';
import { BuiltinLlmClient } from './builtin-llm.client';
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
    LlmService,
  ],
  exports: [LlmService, CircuitBreakerService],
})
export class LlmModule {}
