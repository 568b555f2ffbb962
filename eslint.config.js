// Lint for the whole repository: typescript-eslint with type information, and the boundaries
// between workspaces (a service depends on @taskmesh/shared, never on another service).
import tseslint from 'typescript-eslint';

const SERVICES = ['nameservice', 'worker', 'dispatcher', 'client', 'monitoring', 'devtools'];

/** In workspace `own`, importing any other service's package (or reaching into its folder) is an error. */
const boundaries = (own) => ({
  files: [`${own}/src/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: SERVICES.filter((s) => s !== own && !(own === 'devtools' && s === 'client')).flatMap((s) => [
          {
            group: [`@taskmesh/${s}`, `@taskmesh/${s}/*`],
            message: `a workspace depends on @taskmesh/shared, never on another service (${s})`,
          },
          { group: [`../../${s}/*`, `../../../${s}/*`], message: `no reaching into another workspace's files (${s})` },
        ]),
      },
    ],
  },
});

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'test-output/**', 'data/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // A leading underscore marks a binding left unused on purpose (a rest-spread that drops a key).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
      // node:test's test() and describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
    },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  {
    // Tests read JSON answers whose shape each assertion checks: typing every body would restate the API.
    files: ['**/*.test.ts', '**/test-support.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  ...SERVICES.map(boundaries),
);
