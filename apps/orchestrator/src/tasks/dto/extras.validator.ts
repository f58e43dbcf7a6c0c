import { registerDecorator, type ValidationOptions } from 'class-validator';

export const MAX_EXTRAS_KEYS = 20;
export const MAX_EXTRA_VALUE_LENGTH = 500;
const KEY_PATTERN = /^[a-zA-Z][a-zA-Z0-9_]{0,63}$/;

/** Free-form extras stay flat and small: named scalars only, so they cannot smuggle a deep or huge document. */
export function IsFlatExtras(options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isFlatExtras',
      target: object.constructor,
      propertyName,
      options: {
        message: `$property must be an object of at most ${MAX_EXTRAS_KEYS} keys (letters, digits, "_") whose values are strings (<= ${MAX_EXTRA_VALUE_LENGTH} chars), numbers or booleans`,
        ...options,
      },
      validator: {
        validate(value: unknown): boolean {
          if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
          const entries = Object.entries(value);
          if (entries.length > MAX_EXTRAS_KEYS) return false;
          return entries.every(
            ([key, v]) =>
              KEY_PATTERN.test(key) &&
              ((typeof v === 'string' && v.length <= MAX_EXTRA_VALUE_LENGTH) ||
                (typeof v === 'number' && Number.isFinite(v)) ||
                typeof v === 'boolean'),
          );
        },
      },
    });
}
