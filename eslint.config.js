// Lint: strict TypeScript everywhere; workflows/ must stay deterministic, so Node built-ins and
// heavy libraries (onnxruntime, Arrow, the S3 SDK) are forbidden there.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['fs', 'path', 'os', 'crypto', 'child_process', 'http', 'https', 'net', 'stream', 'worker_threads', 'zlib'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', '.services/**', '.scratch/**', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // node:test's test() returns a promise the runner itself tracks.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [
          ...nodeBuiltins.flatMap((m) => [m, `node:${m}`]).map((name) => ({ name, message: 'workflows must be deterministic: no Node built-ins' })),
          { name: 'onnxruntime-node', message: 'workflows only orchestrate: no compute libraries' },
          { name: 'apache-arrow', message: 'workflows only orchestrate: no Arrow' },
          { name: '@aws-sdk/client-s3', message: 'workflows only orchestrate: no storage clients' },
        ],
        patterns: [{ group: ['../engine/*', '../store/*', '../activities/*'], allowTypeImports: true, message: 'import activities as types only' }],
      }],
    },
  },
);
