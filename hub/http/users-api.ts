// The users endpoints of the HTTP API (docs/api.md "Users"): list, add and remove users (admin), and change
// one's own password. The Authorizer owns users and sessions; this module only checks input and answers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authorizer, Principal } from '../auth/authorizer.js';
import { ROLES, UserStoreError, type Role } from '../auth/user-store.js';
import type * as Api from './api-types.js';
import { HttpError, readJsonBody, sendJson } from './respond.js';

/** What the users endpoints need of the hub. */
export type UsersAuth = Pick<Authorizer, 'listUsers' | 'addUser' | 'removeUser' | 'changePassword'>;

/** The user store's refusals, as HTTP answers (protocol/error-codes.ts). */
const USER_ERROR_STATUS = { HUB_ERR_USER_EXISTS: 409, HUB_ERR_USER_NAME: 400, HUB_ERR_USER_ROLE: 400, HUB_ERR_USER_PASSWORD: 400 } as const;

/** Answers /api/users[/<name>[/password]]; `parts` are the path's segments after 'api'. */
export async function handleUsers(auth: UsersAuth, principal: Principal, req: IncomingMessage, res: ServerResponse, parts: string[]): Promise<void> {
  const method = req.method ?? 'GET';
  const path = `/api/${parts.map(encodeURIComponent).join('/')}`;
  const admin = () => {
    if (principal.role !== 'admin') throw new HttpError(403, 'HUB_ERR_FORBIDDEN', `the ${principal.role} role may not ${method} ${path}`);
  };
  try {
    if (parts.length === 1) {
      admin();
      if (method === 'GET') return sendJson(res, 200, { users: await auth.listUsers() } satisfies Api.UsersResponse);
      if (method === 'POST') {
        const body = await readJsonBody(req);
        const name = requireString(body, 'name');
        const password = requireString(body, 'password');
        const role = requireString(body, 'role');
        if (!ROLES.includes(role as Role)) throw new HttpError(400, 'HUB_ERR_USER_ROLE', `role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(role)}`);
        return sendJson(res, 201, { user: await auth.addUser(name, password, role as Role) } satisfies Api.UserAddResponse);
      }
      throw methodNotAllowed(method, path);
    }
    const name = parts[1]!;
    if (parts.length === 2) {
      admin();
      if (method !== 'DELETE') throw methodNotAllowed(method, path);
      // Removing oneself would end the very session that asked, mid-request: an admin removes others.
      if (name === principal.username) throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', 'you cannot remove the user you are signed in as');
      const removed = await auth.removeUser(name);
      if (!removed) throw new HttpError(404, 'HUB_ERR_NOT_FOUND', `no user "${name}"`);
      return sendJson(res, 200, { removed: name, sessionsEnded: removed.sessionsEnded } satisfies Api.UserRemoveResponse);
    }
    if (parts.length === 3 && parts[2] === 'password') {
      if (method !== 'PUT') throw methodNotAllowed(method, path);
      if (name !== principal.username) throw new HttpError(403, 'HUB_ERR_FORBIDDEN', 'a password is changed by its own user, signed in');
      const body = await readJsonBody(req);
      const result = await auth.changePassword(name, requireString(body, 'currentPassword'), requireString(body, 'password'));
      if (result === 'wrong') throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', 'the current password is wrong');
      if (result === 'unknown') throw new HttpError(404, 'HUB_ERR_NOT_FOUND', `no user "${name}"`);
      return sendJson(res, 200, { changed: name } satisfies Api.PasswordChangeResponse);
    }
    throw new HttpError(404, 'HUB_ERR_NOT_FOUND', `no API endpoint at ${path}`);
  } catch (err) {
    if (err instanceof UserStoreError && err.code in USER_ERROR_STATUS) {
      const code = err.code as keyof typeof USER_ERROR_STATUS;
      throw new HttpError(USER_ERROR_STATUS[code], code, err.message.replace(`${code}: `, ''));
    }
    throw err;
  }
}

function requireString(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (typeof v !== 'string') throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', `${key} is required (a string)`);
  return v;
}

function methodNotAllowed(method: string, path: string): HttpError {
  return new HttpError(405, 'HUB_ERR_METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`);
}
