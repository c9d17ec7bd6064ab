// The small parsers test/docker.test.ts and test/docker-scale-out.test.ts read docker/ with: no Docker engine
// runs here, so the files are parsed and checked against the repository instead.

// ---- Dockerfile: one instruction per logical line (continuations joined, comments dropped) ----------------

export interface Instruction { keyword: string; args: string; line: number }
export interface Stage { from: string; name: string | undefined; instructions: Instruction[] }

/** The stages of a Dockerfile, each with its instructions; throws on a line it cannot parse. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && !pending)) return;
    const joined = pending ? `${pending.text} ${line}` : line;
    const start = pending?.line ?? i + 1;
    if (joined.endsWith('\\')) return void (pending = { text: joined.slice(0, -1).trim(), line: start });
    pending = undefined;
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(joined);
    if (!m) throw new Error(`Dockerfile line ${start}: cannot parse "${joined}"`);
    const ins = { keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start };
    if (ins.keyword === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!from) throw new Error(`Dockerfile line ${start}: bad FROM`);
      stages.push({ from: from[1]!, name: from[2], instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`Dockerfile line ${start}: ${ins.keyword} before FROM`);
      stages.at(-1)!.instructions.push(ins);
    }
  });
  return stages;
}

/** COPY [--flag=value...] src... dest (shell form; JSON form is refused). */
export function parseCopy(args: string): { flags: Record<string, string>; sources: string[]; dest: string } {
  if (args.startsWith('[')) throw new Error('COPY in JSON form is not used here');
  const words = args.split(/\s+/);
  const flags: Record<string, string> = {};
  while (words[0]?.startsWith('--')) {
    const [k, v] = words.shift()!.slice(2).split('=');
    flags[k!] = v ?? '';
  }
  const dest = words.pop()!;
  return { flags, sources: words, dest };
}

/** Splits a POSIX shell command line into words (single and double quotes, backslash in double quotes). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'" || c === '"') {
      let end = i + 1;
      while (end < line.length && line[end] !== c) end += c === '"' && line[end] === '\\' ? 2 : 1;
      if (end >= line.length) throw new Error(`unterminated ${c} in ${line}`);
      word = (word ?? '') + (c === '"' ? line.slice(i + 1, end).replace(/\\(["\\$`])/g, '$1') : line.slice(i + 1, end));
      i = end;
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? '') + c;
  }
  if (word !== undefined) words.push(word);
  return words;
}

// ---- YAML: the block subset compose.yaml is written in (mappings, sequences, scalars, | and > blocks) ------

export type Yaml = string | boolean | null | Yaml[] | { [key: string]: Yaml };

/** The document of `text` in that subset; throws on anything outside it (flow collections, anchors, tabs). */
export function parseYaml(text: string): Yaml {
  const lines = text.split('\n');
  if (lines.some((l) => /^\s*\t/.test(l))) throw new Error('tabs in indentation');
  let at = 0;
  const indentOf = (l: string) => l.length - l.trimStart().length;
  const significant = (l: string) => l.trim() !== '' && !l.trim().startsWith('#');
  const peek = (): { indent: number; text: string } | undefined => {
    while (at < lines.length && !significant(lines[at]!)) at++;
    return at < lines.length ? { indent: indentOf(lines[at]!), text: lines[at]!.trim() } : undefined;
  };
  const scalar = (raw: string): Yaml => {
    if (raw.startsWith('"')) {
      const end = /^"(?:[^"\\]|\\.)*"/.exec(raw);
      if (!end) throw new Error(`unterminated string: ${raw}`);
      return JSON.parse(end[0]) as string;
    }
    if (raw.startsWith("'")) return /^'((?:[^']|'')*)'/.exec(raw)![1]!.replace(/''/g, "'");
    if (raw.startsWith('[') || raw.startsWith('{') || raw.startsWith('&') || raw.startsWith('*')) throw new Error(`unsupported YAML: ${raw}`);
    const plain = raw.replace(/\s+#.*$/, '');
    return plain === 'true' ? true : plain === 'false' ? false : plain === 'null' || plain === '~' ? null : plain;
  };
  const blockScalar = (header: string, parentIndent: number): string => {
    const body: string[] = [];
    while (at < lines.length && (lines[at]!.trim() === '' || indentOf(lines[at]!) > parentIndent)) body.push(lines[at++]!);
    while (body.length > 0 && body.at(-1)!.trim() === '') body.pop();
    const cut = Math.min(...body.filter((l) => l.trim()).map(indentOf));
    const content = body.map((l) => l.slice(cut));
    const joined = header.startsWith('|') ? content.join('\n') : content.join(' ');
    return header.endsWith('-') ? joined : `${joined}\n`;
  };
  const value = (rest: string, indent: number): Yaml => {
    if (/^[|>]-?$/.test(rest)) return blockScalar(rest, indent);
    if (rest !== '' && !rest.startsWith('#')) return scalar(rest);
    const next = peek();
    return next && next.indent > indent ? block(next.indent) : null;
  };
  const block = (indent: number): Yaml => {
    const first = peek()!;
    if (first.text === '-' || first.text.startsWith('- ')) {
      const items: Yaml[] = [];
      for (let l = peek(); l && l.indent === indent && (l.text === '-' || l.text.startsWith('- ')); l = peek()) {
        at++;
        items.push(value(l.text.slice(1).trim(), indent));
      }
      return items;
    }
    const map: Record<string, Yaml> = {};
    for (let l = peek(); l && l.indent === indent; l = peek()) {
      const m = /^([A-Za-z0-9_.-]+):(?:\s+(.*))?$/.exec(l.text);
      if (!m) throw new Error(`line ${at + 1}: expected "key: value", got "${l.text}"`);
      if (m[1]! in map) throw new Error(`line ${at + 1}: duplicate key ${m[1]}`);
      at++;
      map[m[1]!] = value((m[2] ?? '').trim(), indent);
    }
    const stray = peek();
    if (stray && stray.indent > indent) throw new Error(`line ${at + 1}: unexpected indentation`);
    return map;
  };
  const doc = block(0);
  if (peek()) throw new Error(`line ${at + 1}: unexpected content`);
  return doc;
}


/**
 * The `exec ...` line of a compose `sh -c` script as argv: compose's $$ made $, and each $(cat FILE) replaced
 * by `placeholder`, the FILEs returned in order.
 */
export function execArgv(script: string, placeholder: string): { argv: string[]; catFiles: string[] } {
  const line = script.replace(/\$\$/g, '$').split('\n').find((l) => l.startsWith('exec '));
  if (!line) throw new Error('no exec line in the script');
  const catFiles: string[] = [];
  const argv = shellWords(line.replace(/\$\(cat (\S+)\)/g, (_, f: string) => (catFiles.push(f), placeholder))).slice(1);
  return { argv, catFiles };
}

/** One section of an HAProxy configuration: `backend hubs` is { kind: 'backend', name: 'hubs' }; directives as words. */
export interface HaproxySection { kind: string; name: string | undefined; directives: string[][] }

/** The sections of an HAProxy configuration (unindented section lines, indented directives, # comments). */
export function parseHaproxy(text: string): HaproxySection[] {
  const sections: HaproxySection[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trimEnd();
    if (line.trim() === '') continue;
    const words = line.trim().split(/\s+/);
    if (!/^\s/.test(line)) sections.push({ kind: words[0]!, name: words[1], directives: [] });
    else if (sections.length === 0) throw new Error(`directive before any section: ${line.trim()}`);
    else sections.at(-1)!.directives.push(words);
  }
  return sections;
}
