// The optional ACL file (`mqtt.aclFile`), in Mosquitto's acl_file format (mosquitto.conf(5)):
//
//   # comment
//   topic read public/#          <- before any `user` line: anonymous clients
//   user alice
//   topic readwrite tasmota/#    <- alice
//   topic deny tasmota/secret
//   pattern write shellies/%c/#  <- every client; %u user name, %c client id
//
// `topic`/`pattern` take an access of read, write, readwrite (the default when left out) or deny; the
// filter is the rest of the line. It refines the roles: a client gets what its role allows AND this grants.
import { readFileSync, statSync } from 'node:fs';
import type { MqttLogger } from './logger.js';
import { filterCovers, topicMatches } from './topic-filter.js';

export type AclAccess = 'read' | 'write' | 'readwrite' | 'deny';

interface Rule {
  access: AclAccess;
  filter: string;
  /** A `pattern` line: %u and %c are replaced per client. */
  pattern: boolean;
}

/** Who asks: the user (null: anonymous) and the client id, for %u and %c. */
export interface AclFileSubject {
  user: string | null;
  clientId: string;
}

/** The stable code of every ACL file error (tabled in docs/mqtt.md). */
export const ACL_FILE_ERROR_CODES = ['HUB_ERR_MQTT_ACL_FILE'] as const;

const ACCESS: readonly string[] = ['read', 'write', 'readwrite', 'deny'];

/** A parsed ACL file: topic lines per user (null: anonymous) and pattern lines for everyone. */
export class AclFile {
  readonly #users: Map<string | null, Rule[]>;
  readonly #patterns: Rule[];

  private constructor(users: Map<string | null, Rule[]>, patterns: Rule[]) {
    this.#users = users;
    this.#patterns = patterns;
  }

  /** Reads and parses a file; throws HUB_ERR_MQTT_ACL_FILE naming the path and line of the first problem. */
  static load(path: string): AclFile {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`HUB_ERR_MQTT_ACL_FILE: cannot read ${path}: ${(err as Error).message}`);
    }
    return AclFile.parse(text, path);
  }

  /** Parses the text of an ACL file; throws HUB_ERR_MQTT_ACL_FILE naming `name` and the line of the first problem. */
  static parse(text: string, name = 'acl file'): AclFile {
    const users = new Map<string | null, Rule[]>([[null, []]]);
    const patterns: Rule[] = [];
    let current: string | null = null;
    text.split(/\r?\n/).forEach((raw, i) => {
      const fail = (why: string): never => {
        throw new Error(`HUB_ERR_MQTT_ACL_FILE: ${name}:${i + 1}: ${why}`);
      };
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const m = /^(\S+)\s*(.*)$/.exec(line)!;
      const [, word, rest] = m as unknown as [string, string, string];
      if (word === 'user') {
        if (rest === '') fail('user needs a name');
        current = rest;
        if (!users.has(current)) users.set(current, []);
        return;
      }
      if (word !== 'topic' && word !== 'pattern') fail(`unknown directive "${word}" (user, topic, pattern)`);
      const am = /^(\S+)\s+(.+)$/.exec(rest);
      const [access, filter] = am && ACCESS.includes(am[1]!) ? [am[1] as AclAccess, am[2]!] : ['readwrite' as const, rest];
      if (filter === '') fail(`${word} needs a topic filter`);
      if (ACCESS.includes(filter)) fail(`${word} ${filter} needs a topic filter`);
      if (!isValidFilter(filter)) fail(`"${filter}" is not a valid topic filter`);
      const rule = { access, filter, pattern: word === 'pattern' };
      if (word === 'pattern') patterns.push(rule);
      else users.get(current)!.push(rule);
    });
    return new AclFile(users, patterns);
  }

  /** Whether the file lets this client receive messages on `topic`. */
  canRead(who: AclFileSubject, topic: string): boolean {
    return this.#allows(who, 'read', (f) => topicMatches(f, topic), (f) => topicMatches(f, topic));
  }

  /** Whether the file lets this client publish to `topic`. */
  canWrite(who: AclFileSubject, topic: string): boolean {
    return this.#allows(who, 'write', (f) => topicMatches(f, topic), (f) => topicMatches(f, topic));
  }

  /**
   * Whether the file lets this client subscribe to `filter`: a read rule covers all of it and no deny rule
   * covers all of it. A deny rule inside the filter is enforced on delivery (canRead), as Mosquitto does.
   */
  canSubscribe(who: AclFileSubject, filter: string): boolean {
    return this.#allows(who, 'read', (f) => filterCovers(f, filter), (f) => filterCovers(f, filter));
  }

  #allows(who: AclFileSubject, want: 'read' | 'write', grants: (f: string) => boolean, denies: (f: string) => boolean): boolean {
    let granted = false;
    for (const rule of this.#rules(who)) {
      if (rule.access === 'deny') {
        if (denies(rule.filter)) return false;
      } else if (!granted && (rule.access === want || rule.access === 'readwrite') && grants(rule.filter)) {
        granted = true;
      }
    }
    return granted;
  }

  *#rules(who: AclFileSubject): Generator<Rule> {
    // Anonymous clients get the lines above the first `user` line; a user only its own section.
    yield* this.#users.get(who.user) ?? [];
    for (const p of this.#patterns) {
      const filter = substitute(p.filter, who);
      if (filter !== null) yield { ...p, filter };
    }
  }
}

/**
 * The ACL file of `mqtt.aclFile`, read at start and again when it changed (checked at each CONNECT): a file
 * that no longer parses is logged and the rules read before stay in force.
 */
export class AclFileSource {
  readonly #path: string;
  readonly #logger: MqttLogger;
  #file: AclFile;
  #stamp: string;

  private constructor(path: string, logger: MqttLogger, file: AclFile, stamp: string) {
    this.#path = path;
    this.#logger = logger;
    this.#file = file;
    this.#stamp = stamp;
  }

  /** Reads the file; throws HUB_ERR_MQTT_ACL_FILE when it cannot be read or parsed. */
  static open(path: string, logger: MqttLogger): AclFileSource {
    const stamp = stampOf(path);
    return new AclFileSource(path, logger, AclFile.load(path), stamp ?? '');
  }

  /** The rules in force. */
  current(): AclFile {
    return this.#file;
  }

  /** Re-reads the file when its modification time or size changed. */
  refresh(): void {
    const stamp = stampOf(this.#path);
    if (stamp === null || stamp === this.#stamp) return;
    this.#stamp = stamp;
    try {
      this.#file = AclFile.load(this.#path);
      this.#logger.info({ path: this.#path }, 'MQTT ACL file re-read');
    } catch (err) {
      this.#logger.error({ code: 'HUB_ERR_MQTT_ACL_FILE', path: this.#path, err: (err as Error).message }, 'the changed MQTT ACL file is refused; the previous rules stay');
    }
  }
}

function stampOf(path: string): string | null {
  try {
    const st = statSync(path);
    return `${st.mtimeMs}:${st.size}`;
  } catch {
    return null;
  }
}

/** A pattern's filter for one client, or null when it does not apply (%u without a user; an id with wildcards or `/`). */
function substitute(filter: string, who: AclFileSubject): string | null {
  const unsafe = (s: string) => /[+#/]/.test(s);
  if (filter.includes('%u') && (who.user === null || unsafe(who.user))) return null;
  if (filter.includes('%c') && unsafe(who.clientId)) return null;
  return filter.replaceAll('%u', who.user ?? '').replaceAll('%c', who.clientId);
}

/** A filter per MQTT §4.7.1: `#` only last and alone in its level, `+` alone in its level. */
function isValidFilter(filter: string): boolean {
  if (filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  return levels.every((l, i) => (l.includes('#') ? l === '#' && i === levels.length - 1 : !l.includes('+') || l === '+'));
}
