import { z } from 'zod';

/** Env values are strings; "true"/"1"/"yes" and "false"/"0"/"no" are the accepted spellings. */
export const envBool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const envInt = (fallback: number, min: number, max: number = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ message: 'must be a number' })
    .int({ message: 'must be a whole number' })
    .min(min, { message: `must be >= ${min}` })
    .max(max, { message: `must be <= ${max}` })
    .default(fallback);

export const envNumber = (fallback: number, min: number, max: number) =>
  z.coerce
    .number({ message: 'must be a number' })
    .min(min, { message: `must be >= ${min}` })
    .max(max, { message: `must be <= ${max}` })
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
