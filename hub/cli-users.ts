import { createInterface } from 'node:readline';
import type { HubConfig } from './config.js';
import type { UserBackend } from './auth/credential-stores.js';
import { SharedUserStore } from './auth/shared-user-store.js';
import { ROLES, UserStore, type Role } from './auth/user-store.js';
import { PgStore } from './storage/pg/pg-store.js';

class UsageError extends Error {
  readonly code = 'ERR_PARSE_ARGS_USAGE';
}

/**
 * `hearth user add|list|remove`: users.json in the data directory, which a running hub re-reads, or with
 * db.url the users table of the PostgreSQL database every hub on it reads.
 */
export async function runUserCommand(
  config: HubConfig,
  sub: string | undefined,
  args: string[],
  values: Record<string, unknown>,
  io: { say: (text: string) => void; stdin: NodeJS.ReadableStream },
): Promise<number> {
  const url = config['db.url'];
  if (url === null) {
    const users = new UserStore({ dataDir: config.dataDir });
    users.load();
    return userCommand(users, sub, args, values, io, 'a running hub');
  }
  const store = new PgStore({ url, poolSize: 1 });
  await store.open();
  try {
    return await userCommand(new SharedUserStore(store.auth), sub, args, values, io, 'every hub on the database');
  } finally {
    await store.close();
  }
}

async function userCommand(
  users: UserBackend,
  sub: string | undefined,
  args: string[],
  values: Record<string, unknown>,
  io: { say: (text: string) => void; stdin: NodeJS.ReadableStream },
  hubs: string,
): Promise<number> {
  switch (sub) {
    case 'add': {
      const name = args[0];
      const role = values.role as string | undefined;
      if (!name || args.length > 1) throw new UsageError('usage: hearth user add <name> --role admin|integration|viewer [--password <p>]');
      if (!role || !ROLES.includes(role as Role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(role ?? null)}`);
      const password = typeof values.password === 'string' ? values.password : await readLine(io.stdin);
      if (!password) throw new UsageError('a password is required (--password, or one line on standard input)');
      await users.add(name, password, role as Role);
      io.say(`user ${name} added with role ${role}`);
      return 0;
    }
    case 'list': {
      const list = await users.list();
      if (values.json) io.say(JSON.stringify(list, null, 2));
      else if (list.length === 0) io.say('no users; add one with: hearth user add <name> --role admin');
      else for (const u of list) io.say(`${u.name.padEnd(24)} ${u.role.padEnd(12)} ${new Date(u.createdAt).toISOString()}`);
      return 0;
    }
    case 'remove': {
      const name = args[0];
      if (!name || args.length > 1) throw new UsageError('usage: hearth user remove <name>');
      if (!(await users.remove(name))) throw new Error(`no user "${name}"`);
      io.say(`user ${name} removed; ${hubs} ends their dashboard sessions within a second`);
      return 0;
    }
    default:
      throw new UsageError('usage: hearth user add|list|remove (see hearth user --help)');
  }
}

async function readLine(stdin: NodeJS.ReadableStream): Promise<string> {
  const rl = createInterface({ input: stdin, terminal: false });
  for await (const line of rl) {
    rl.close();
    return line.trim();
  }
  return '';
}
