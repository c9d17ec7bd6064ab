import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authorizer } from '../auth/authorizer.js';
import { PasswordThrottle } from '../auth/password-throttle.js';
import type { SessionInfo } from '../auth/session-store.js';
import type { ApiErrorResponse, SessionResponse, SignInResponse, SignOutResponse } from './api-types.js';
import { bearerToken, requestPath } from './request.js';
import { HttpError, readJsonBody, sendJson, sendStorageFault } from './respond.js';

// Dashboard sign-in: a user name and password are exchanged once for a random session token that the
// browser keeps in sessionStorage and sends as `Authorization: Bearer <token>` (API) or as the password of
// MQTT user `session` (MQTT over WebSocket). The password never stays in the browser.

/** The one path the session API answers. */
export const SESSION_PATH = '/api/session';

const MAX_USERNAME_CHARS = 64;
const MAX_PASSWORD_CHARS = 1024;

export interface SessionApiDeps {
  /** Signs users in and out and describes sessions (hub/auth). */
  auth: Pick<Authorizer, 'signIn' | 'session' | 'signOut'>;
  now?: () => number;
}

/**
 * Handles `/api/session`: POST {username, password} signs in (200 {token, role, username, expiresAt} or 401
 * HUB_ERR_BAD_CREDENTIALS), GET describes the bearer's session, DELETE signs it out. Errors are JSON
 * {error, message}; a client address with too many failed sign-ins gets 429 HUB_ERR_TOO_MANY_ATTEMPTS.
 */
export function createSessionApi(deps: SessionApiDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const now = deps.now ?? Date.now;
  // Per client address: 10 failures a minute, then 429 (hub/auth/password-throttle.ts, as MQTT CONNECT).
  const failures = new PasswordThrottle(now);
  return async (req, res) => {
    try {
      const path = requestPath(req.url);
      if (path !== SESSION_PATH) throw new HttpError(404, 'HUB_ERR_NOT_FOUND', `no API endpoint at ${path}`);
      switch (req.method) {
        case 'POST':
          return await signIn(deps, failures, req, res);
        case 'GET': {
          const session = await liveSession(deps.auth, req);
          return sendJson(res, 200, session satisfies SessionResponse);
        }
        case 'DELETE': {
          const token = bearerToken(req);
          if (token === null) throw unauthorized();
          // Idempotent: signing out an expired session still leaves the browser signed out.
          return sendJson(res, 200, { revoked: await deps.auth.signOut(token) } satisfies SignOutResponse);
        }
        default:
          res.setHeader('allow', 'GET, POST, DELETE');
          throw new HttpError(405, 'HUB_ERR_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${SESSION_PATH}`);
      }
    } catch (err) {
      if (err instanceof HttpError) return sendJson(res, err.status, { error: err.code, message: err.message } satisfies ApiErrorResponse);
      if (sendStorageFault(res, err)) return; // the users live in a database out of reach (db.url)
      sendJson(res, 500, { error: 'HUB_ERR_INTERNAL', message: (err as Error).message } satisfies ApiErrorResponse);
    }
  };
}

async function signIn(deps: SessionApiDeps, failures: PasswordThrottle, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const client = req.socket.remoteAddress ?? 'unknown';
  const wait = failures.blockedFor(client);
  if (wait > 0) {
    res.setHeader('retry-after', String(Math.ceil(wait / 1000)));
    throw new HttpError(429, 'HUB_ERR_TOO_MANY_ATTEMPTS', `too many failed sign-ins; try again in ${Math.ceil(wait / 1000)} s`);
  }
  // A JSON content type makes a cross-site form post impossible without a CORS preflight (login CSRF).
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', 'send the credentials as Content-Type: application/json');
  }
  const body = await readJsonBody(req);
  const { username, password } = body;
  if (typeof username !== 'string' || username.length === 0 || username.length > MAX_USERNAME_CHARS) {
    throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', `username must be a string of 1-${MAX_USERNAME_CHARS} characters`);
  }
  if (typeof password !== 'string' || password.length > MAX_PASSWORD_CHARS) {
    throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', `password must be a string of at most ${MAX_PASSWORD_CHARS} characters`);
  }
  const granted = await deps.auth.signIn(username, password);
  if (!granted) {
    failures.record(client);
    throw new HttpError(401, 'HUB_ERR_BAD_CREDENTIALS', 'wrong user name or password');
  }
  failures.clear(client);
  sendJson(res, 200, granted satisfies SignInResponse);
}

async function liveSession(auth: SessionApiDeps['auth'], req: IncomingMessage): Promise<SessionInfo> {
  const token = bearerToken(req);
  const session = token === null ? null : await auth.session(token);
  if (!session) throw unauthorized();
  return session;
}

function unauthorized(): HttpError {
  return new HttpError(401, 'HUB_ERR_UNAUTHORIZED', 'send Authorization: Bearer <session token>');
}
