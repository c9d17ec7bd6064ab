import { createInterface } from 'node:readline';
import type { HubConfig } from './config.js';
import { ROLES, UserStore, type Role } from './auth/user-store.js';

class UsageError extends Error {
  readonly code = 'ERR_PARSE_ARGS_USAGE';
}

/** `hearth user add|list|remove`: users.json in the data directory, which a running hub re-reads. */
export async function runUserCommand(
  config: HubConfig,
  sub: string | undefined,
  args: string[],
  values: Record<string, unknown>,
  io: { say: (text: string) => void; stdin: NodeJS.ReadableStream },
): Promise<number> {
  const users = new UserStore({ dataDir: config.dataDir });
  users.load();
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
      const list = users.list();
      if (values.json) io.say(JSON.stringify(list, null, 2));
      else if (list.length === 0) io.say('no users; add one with: hearth user add <name> --role admin');
      else for (const u of list) io.say(`${u.name.padEnd(24)} ${u.role.padEnd(12)} ${new Date(u.createdAt).toISOString()}`);
      return 0;
    }
    case 'remove': {
      const name = args[0];
      if (!name || args.length > 1) throw new UsageError('usage: hearth user remove <name>');
      if (!users.remove(name)) throw new Error(`no user "${name}"`);
      io.say(`user ${name} removed`);
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
