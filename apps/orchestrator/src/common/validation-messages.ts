/**
 * class-validator messages shared by the DTOs. A DTO lists a property's type check lowest:
 * class-validator runs the lowest decorator first and, with stopAtFirstError, reports only the
 * first failure, so a wrong type reads "must be a string", not a length or range error.
 * @IsDefined always runs before the others.
 */
export const REQUIRED = '$property is required';
export const NOT_BLANK_MESSAGE = '$property must not be blank';
