import t from 'tap';
import { EXIT, formatError, inputError, ToolError, usageError } from '../src/errors.js';

t.test('ToolError carries code, summary, detail, hint and exit code', async (t) => {
  const e = new ToolError('bad-thing', 'it broke', { detail: 'line one\nline two', hint: 'do X' });
  t.equal(e.exitCode, EXIT.failure);
  t.same(e.toJSON(), { code: 'bad-thing', summary: 'it broke', detail: 'line one\nline two', hint: 'do X' });
  t.equal(formatError('tool', e), 'tool: it broke\n  line one\n  line two\n  hint: do X\n');
});

t.test('usage and input errors exit 2', async (t) => {
  t.equal(usageError('no FILE').exitCode, 2);
  t.equal(inputError('x: cannot read').exitCode, 2);
  t.same(usageError('u').toJSON(), { code: 'usage', summary: 'u' });
});

t.test('no stack trace unless debug', async (t) => {
  const user = formatError('tool', new ToolError('x', 'user mistake'));
  t.notMatch(user, /\n\s+at /);
  t.match(formatError('tool', new ToolError('x', 'user mistake'), true), /\n\s+at /);
  const internal = formatError('tool', new TypeError('boom'));
  t.match(internal, /^tool: internal error: boom\n/);
  t.notMatch(internal, /\n\s+at /);
  t.match(formatError('tool', new TypeError('boom'), true), /\n\s+at /);
  t.match(formatError('tool', 'plain string'), /internal error: plain string/);
});
