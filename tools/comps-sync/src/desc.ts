/**
 * tasksel's task descriptions (/usr/share/tasksel/descs/debian-tasks.desc in
 * tasksel-data): one stanza per task with Task, Key (the task-* metapackage),
 * Parent, Section, Relevance, an optional Description, and `Packages: standard`
 * for the priority-based "standard" task.
 */
import { firstLine, parseDeb822, positionedError } from './deb822.js';

export interface TaskDesc {
  name: string;
  /** Key packages: tasksel installs these; their Depends/Recommends are the task. */
  key: string[];
  /** The Packages method (`standard`), if any. */
  packages: string | undefined;
  description: string | undefined;
  parent: string | undefined;
  section: string | undefined;
  file: string;
  line: number;
}

export function parseTaskDescs(text: string, file: string): Map<string, TaskDesc> {
  const tasks = new Map<string, TaskDesc>();
  for (const st of parseDeb822(text, file)) {
    const f = (k: string) => st.fields.get(k)?.value;
    const name = f('task');
    if (!name) throw positionedError({ file, line: st.line, col: 1, message: "stanza without a 'Task' field" });
    const prev = tasks.get(name);
    if (prev)
      throw positionedError({
        file,
        line: st.line,
        col: 1,
        message: `task '${name}' defined twice (first at line ${prev.line})`,
      });
    const key = (f('key') ?? '').split(/\s+/).filter(Boolean);
    const description = f('description');
    tasks.set(name, {
      name,
      key,
      packages: f('packages')?.trim() || undefined,
      description: description ? firstLine(description) : undefined,
      parent: f('parent'),
      section: f('section'),
      file,
      line: st.line,
    });
  }
  if (tasks.size === 0)
    throw positionedError({ file, line: 1, col: 1, message: 'no Task stanzas (is this a tasksel .desc file?)' });
  return tasks;
}
