/** Persona ids are slugs: lowercase letters, digits and "-", starting with a letter or digit. */
export const SLUG_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;
export const SLUG_MESSAGE = '$property must be a slug of lowercase letters, digits and "-" (1-64 characters)';
