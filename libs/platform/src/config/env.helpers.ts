import { z } from 'zod';

/** Env values are strings; "true"/"1"/"yes" and "false"/"0"/"no" are the accepted spellings. */
export const envBool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

/**
 * Numbers are written in plain decimal digits, nothing else: `Number()` (and zod's coerce) would
 * read " " as 0, "0x1F90" as 8080 and "1e3" as 1000, so a typo or a stray space in a manifest
 * would silently become a different port or limit.
 */
const DECIMAL_INT = /^-?\d+$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;

export const envInt = (fallback: number, min: number, max: number = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(DECIMAL_INT, { message: 'must be a whole number in plain decimal digits (like 8080)' })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { message: `must be >= ${min}` })
        .max(max, { message: `must be <= ${max}` }),
    )
    .default(fallback);

export const envNumber = (fallback: number, min: number, max: number) =>
  z
    .string()
    .regex(DECIMAL, { message: 'must be a number in plain decimal digits (like 0.5)' })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { message: `must be >= ${min}` })
        .max(max, { message: `must be <= ${max}` }),
    )
    .default(fallback);

export const envUrl = (fallback: string, protocols: string[]) =>
  z
    .string()
    .default(fallback)
    .refine(
      (v) => {
        try {
          return protocols.includes(new URL(v).protocol);
        } catch {
          return false;
        }
      },
      { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
    );
