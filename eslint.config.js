// ESLint flat config: @eslint/js recommended + typescript-eslint recommended with type
// information (the project service reads tsconfig.json, which covers src, test, bench,
// examples and scripts/*.ts). Plain JS files (scripts/*.mjs, this file) are linted
// without type information.
import js from '@eslint/js'
import { defineConfig } from 'eslint/config'
import tseslint from 'typescript-eslint'

// The `globals` package is not a dependency; these are the Node globals plain JS files use.
const nodeGlobals = Object.fromEntries(
  [
    'process',
    'console',
    'Buffer',
    'URL',
    'URLSearchParams',
    'AbortController',
    'AbortSignal',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'clearImmediate',
    'queueMicrotask',
    'structuredClone',
    'performance',
    'fetch',
    'TextEncoder',
    'TextDecoder',
  ].map((name) => [name, 'readonly']),
)

export default defineConfig(
  {
    // Mirrors .gitignore (build output, scratch, bench temp copies). Dot-directories
    // (scratch such as bench/.exp) are outside tsconfig's globs, so they cannot be typed.
    // test/package/fixtures/consumer/ is a consumer project of its own: it resolves
    // 'sessionmesh' only in the scratch project test/package/tarball.test.ts builds.
    ignores: ['dist/', 'build-check/', 'node_modules/', '.tmp/', 'coverage/', 'scratch/', 'bench/results/*.tmp', '**/.*/', 'test/package/fixtures/consumer/'],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: nodeGlobals,
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      // node:test's describe/it/test return promises the runner itself tracks.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { attributes: false } }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // SessionView is deliberately `Record<string, any>`.
      '@typescript-eslint/no-explicit-any': 'warn',
      // Async store methods implement a Promise-returning contract (and turn throws into
      // rejections) whether or not they await anything.
      '@typescript-eslint/require-await': 'off',
      // `declare global { namespace Express { ... } }` is how Express request types are augmented.
      '@typescript-eslint/no-namespace': ['error', { allowDeclarations: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
)
