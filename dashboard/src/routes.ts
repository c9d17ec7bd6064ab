// Hash routes: the hub serves one page, and the hash keeps deep links working without server routes.

export type Route = { name: 'home' } | { name: 'device'; id: string } | { name: 'hub' } | { name: 'activity' } | { name: 'users' } | { name: 'account' } | { name: 'firmware' };

const PAGES = ['hub', 'activity', 'users', 'account', 'firmware'] as const;

/** The route a location hash names; anything unknown is home. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/^\/+/, '');
  const parts = path.split('/').filter((p) => p !== '');
  const page = PAGES.find((p) => p === parts[0]);
  if (page && parts.length === 1) return { name: page };
  if (parts[0] === 'device' && parts.length === 2) {
    try {
      const id = decodeURIComponent(parts[1]!);
      if (id !== '') return { name: 'device', id };
    } catch {
      // a malformed escape falls through to home
    }
  }
  return { name: 'home' };
}

/** The hash that parseRoute() reads back as `route`. */
export function routeHash(route: Route): string {
  switch (route.name) {
    case 'home':
      return '#/';
    case 'hub':
    case 'activity':
    case 'users':
    case 'account':
    case 'firmware':
      return `#/${route.name}`;
    case 'device':
      return `#/device/${encodeURIComponent(route.id)}`;
  }
}
