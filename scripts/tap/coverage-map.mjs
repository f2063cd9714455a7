// tap "coverage-map" of every tool: each test file's coverage is that of the package's own
// src/ (what the coverage report has always shown; dist/ counts through its source maps). Without
// it tap records, in every test process and every tool process a test spawns, the coverage of
// everything loaded outside the package's own node_modules — tap, ts-node, TypeScript, zod, yaml
// in the workspace root's node_modules, ../lib — megabytes a process, only for the report to drop them.
export default () => 'src/**/*.ts';
