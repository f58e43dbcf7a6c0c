import type { ApiScope } from '@app/platform';
import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiForbiddenResponse, ApiSecurity, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ErrorBody } from '@app/platform';

export const REQUIRED_SCOPES = 'auth:required-scopes';
export const API_KEY_SECURITY = 'api-key';

/** The scopes an API key needs for this route (all of them); documented in OpenAPI with the 401/403. */
export function RequireScopes(...scopes: ApiScope[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    SetMetadata(REQUIRED_SCOPES, scopes),
    ApiSecurity(API_KEY_SECURITY),
    ApiUnauthorizedResponse({ type: ErrorBody, description: 'X-API-Key missing or unknown.' }),
    ApiForbiddenResponse({ type: ErrorBody, description: `The key lacks the scope: ${scopes.join(', ')}.` }),
  );
}
