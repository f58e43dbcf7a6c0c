import { CallerScope, type TenantScope } from '@app/platform';
import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors, invalid, PROTECTION_ERRORS } from '../openapi/api-responses';
import { RequireScopes } from '../protection/auth/scopes.decorator';
import { UsageDto, UsageQuery } from './dto/usage.dto';
import { UsageService } from './usage.service';

@ApiTags('usage')
@ApiErrors(PROTECTION_ERRORS)
@Controller('v1/usage')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Get()
  @RequireScopes('tasks:read')
  @ApiOperation({
    operationId: 'getUsage',
    summary: "The caller's tenant's tasks by status and LLM tokens by model over a time range",
    description:
      'Counts the tasks created in [from, to) by their status now, and the tokens their posts used by model. ' +
      'A key with the admin scope may ask for any tenant with ?tenant= (or every tenant together without it).',
  })
  @ApiOkResponse({ type: UsageDto, description: 'The usage over the range.' })
  @ApiErrors({
    400: invalid('A parameter is invalid, from is not before to, or the range is over 366 days.', {
      field: 'from',
      reason: 'from must be before to',
    }),
  })
  get(@Query() query: UsageQuery, @CallerScope() scope: TenantScope): Promise<UsageDto> {
    return this.usage.usage(query, scope.visible);
  }
}
