import type { ApiScope } from '@app/platform';
import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiSecurity } from '@nestjs/swagger';
import { API_KEY_SECURITY, ApiErrors, authErrors } from '../../openapi/api-responses';

export const REQUIRED_SCOPES = 'auth:required-scopes';

/** The scopes an API key needs for this route (all of them); documented in OpenAPI with the 401/403. */
export function RequireScopes(...scopes: ApiScope[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    SetMetadata(REQUIRED_SCOPES, scopes),
    ApiSecurity(API_KEY_SECURITY),
    ApiErrors(authErrors(scopes)),
  );
}
