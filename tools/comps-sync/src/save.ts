/**
 * Rewrite tasks.yaml with the synced entries, touching only the tasks that change:
 * each changed task's `name: {...}` is re-rendered from its own YAML nodes (so
 * comments on its keys and items survive) and spliced into the original text.
 * The header, other tasks, blank lines and comment alignment stay byte for byte,
 * so `git diff` shows the real change only.
 */
import { Document, isMap, isScalar, isSeq, Pair, Scalar, YAMLMap, YAMLSeq, type Node as YamlNode } from 'yaml';
import type { LoadedYaml } from '@debian-atomic/lib';
import { normaliseEntry } from './relations.js';
import { byCodePoint, type TaskEntry } from './tasksfile.js';

/** Flow lists (`[a, b]`) up to this width stay on one line; longer ones become block lists. */
const LINE_WIDTH = 80;

export function renderTasksFile(y: LoadedYaml, updates: ReadonlyMap<string, TaskEntry>): string {
  if (updates.size === 0) return y.text;
  const tasks = y.doc.get('tasks', true);
  const indentSeq = detectIndentSeq(y.text);
  if (!isMap(tasks) || tasks.flow) {
    // `tasks:` empty or written as a flow mapping: nothing to splice into; render the whole document.
    const map = isMap(tasks) ? tasks : new YAMLMap();
    map.flow = false;
    for (const [name, entry] of updates) {
      let pair = map.items.find((p) => keyOf(p) === name);
      if (!pair) map.items.push((pair = new Pair(new Scalar(name), null)));
      pair.value = buildTaskMap(pair.value, entry, 4);
    }
    y.doc.set('tasks', map);
    return y.doc.toString({ indentSeq, flowCollectionPadding: false, lineWidth: 0 });
  }
  const edits: { start: number; end: number; text: string }[] = [];
  for (const pair of tasks.items) {
    const name = keyOf(pair);
    const entry = name === undefined ? undefined : updates.get(name);
    if (!entry) continue;
    const key = pair.key as YamlNode;
    const start = key.range![0];
    const col = y.lines.linePos(start).col - 1;
    const value = pair.value as YamlNode | null;
    let end: number;
    if (isMap(value) && !value.flow && value.range) end = value.range[2];
    else {
      // `name:`, `name: {}`, `name: null`: replace up to the end of that line.
      const after = value?.range ? value.range[1] : key.range![2];
      const nl = y.text.indexOf('\n', after);
      end = nl < 0 ? y.text.length : nl + 1;
    }
    // The key's leading comment and blank line are outside [start, end): don't render them again.
    const keyNode = isScalar(key) ? Object.assign(new Scalar(key.value), { type: key.type }) : key;
    const one = new YAMLMap();
    one.items.push(new Pair(keyNode, buildTaskMap(value, entry, col + 2)));
    const doc = new Document();
    doc.contents = one;
    const rendered = doc.toString({ indentSeq, flowCollectionPadding: false, lineWidth: 0 });
    const text = indent(rendered, col);
    edits.push({
      start,
      end,
      text: y.text.slice(end - 1, end) === '\n' || end === y.text.length ? text : text.replace(/\n$/, ''),
    });
  }
  // Tasks new to the file go after the last one, in the order given.
  const present = new Set(tasks.items.map(keyOf));
  const added = [...updates].filter(([name]) => !present.has(name));
  if (added.length) {
    const last = tasks.items[tasks.items.length - 1];
    let at = y.text.length;
    let col = 2;
    if (last) {
      const key = last.key as YamlNode;
      col = y.lines.linePos(key.range![0]).col - 1;
      const value = last.value as YamlNode | null;
      const after =
        isMap(value) && !value.flow && value.range ? value.range[2] - 1 : (value?.range?.[1] ?? key.range![2]);
      const nl = y.text.indexOf('\n', after);
      at = nl < 0 ? y.text.length : nl + 1;
    }
    const one = new YAMLMap();
    for (const [name, entry] of added) one.items.push(new Pair(new Scalar(name), buildTaskMap(null, entry, col + 2)));
    const doc = new Document();
    doc.contents = one;
    const text = indent(doc.toString({ indentSeq, flowCollectionPadding: false, lineWidth: 0 }), col, true);
    edits.push({ start: at, end: at, text: (at > 0 && y.text[at - 1] !== '\n' ? '\n' : '') + text });
  }
  let out = y.text;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

function indent(text: string, col: number, firstLine = false): string {
  return text
    .split('\n')
    .map((l, i) => ((i === 0 && !firstLine) || l === '' ? l : ' '.repeat(col) + l))
    .join('\n');
}

function keyOf(pair: Pair): string | undefined {
  const k = pair.key;
  if (isScalar(k)) return String(k.value);
  return typeof k === 'string' ? k : undefined;
}

/** The task's mapping, reusing its existing key and item nodes (and their comments). */
function buildTaskMap(existing: unknown, entry: TaskEntry, indent: number): YAMLMap {
  const map = isMap(existing) ? existing : new YAMLMap();
  // `name: {}  # why` or `name:  # why`: keep the note, at the top of the now block mapping.
  const note =
    (isMap(existing) && existing.flow) || isScalar(existing) ? (existing as YAMLMap | Scalar).comment : undefined;
  if (note) {
    map.commentBefore = map.commentBefore ? `${map.commentBefore}\n${note}` : note;
    if (isMap(existing)) existing.comment = undefined;
  }
  map.flow = false;
  const items: Pair[] = [];
  for (const [k, v] of Object.entries(entry)) {
    if (v === undefined) continue;
    const pair = map.items.find((p) => keyOf(p) === k) ?? new Pair(new Scalar(k), null);
    if (typeof v === 'string') {
      if (isScalar(pair.value)) pair.value.value = v;
      else pair.value = new Scalar(v);
    } else {
      pair.value = buildList(pair.value, v, indent + k.length + 2);
    }
    items.push(pair);
  }
  map.items = items;
  return map;
}

function buildList(existing: unknown, entries: readonly string[], column: number): YAMLSeq {
  const old = isSeq(existing) ? existing : undefined;
  const byEntry = new Map<string, Scalar>();
  for (const item of old?.items ?? []) {
    if (!isScalar(item)) continue;
    const e = normaliseEntry(String(item.value));
    if (!byEntry.has(e)) byEntry.set(e, item);
  }
  const seq = old ?? new YAMLSeq();
  seq.items = [...entries].sort(byCodePoint).map((e) => {
    const s = byEntry.get(e) ?? new Scalar(e);
    s.value = e;
    return s;
  });
  // A block list stays a block list; a flow or new one is flow while it fits on its line.
  const oneLine = column + 2 + entries.reduce((n, e) => n + e.length + 2, 0);
  const commented = seq.items.some((i) => isScalar(i) && (i.comment || i.commentBefore));
  seq.flow = (old ? Boolean(old.flow) : true) && oneLine <= LINE_WIDTH && !commented && entries.length > 0;
  return seq;
}

/** Does the file indent block sequences under their key (`key:\n  - a`) or not (`key:\n- a`)? */
export function detectIndentSeq(text: string): boolean {
  const m = /^( *)[^\s#-][^\n]*:[ \t]*(?:#[^\n]*)?\n(?: *#[^\n]*\n)*( *)- /m.exec(text);
  return m ? m[2]!.length > m[1]!.length : true;
}
