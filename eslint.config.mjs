// @ts-check
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'load-tests/results/**', 'bench/results/**', 'clients/typescript/src/schema.ts'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { globals: { require: 'readonly', module: 'writable', process: 'readonly', __dirname: 'readonly', console: 'readonly', fetch: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      // Apps reach shared code through the @app/* aliases, never by climbing out of their folder.
      'no-restricted-imports': ['error', { patterns: [{ group: ['../../libs/*', '../../../libs/*'], message: 'import shared code through @app/db or @app/platform' }] }],
    },
  },
  {
    // Type-aware rules for the TypeScript sources: a promise nobody awaits loses its error.
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    files: ['**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // k6 scripts are ES modules run by k6, which provides open() and __ENV in the init context.
    files: ['load-tests/k6/**/*.js'],
    languageOptions: { sourceType: 'module', globals: { open: 'readonly', __ENV: 'readonly' } },
  },
  {
    // Tests may use loose JSON bodies; production code may not.
    files: ['**/*.spec.ts', '**/*.e2e-spec.ts', 'test/**/*.ts', 'load-tests/test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
