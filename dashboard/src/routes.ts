// Hash routes: the hub serves one page, and the hash keeps deep links working without server routes.

export type Route = { name: 'home' } | { name: 'device'; id: string } | { name: 'hub' } | { name: 'firmware' };

/** The route a location hash names; anything unknown is home. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/^\/+/, '');
  const parts = path.split('/').filter((p) => p !== '');
  if (parts[0] === 'hub' && parts.length === 1) return { name: 'hub' };
  if (parts[0] === 'firmware' && parts.length === 1) return { name: 'firmware' };
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
      return '#/hub';
    case 'firmware':
      return '#/firmware';
    case 'device':
      return `#/device/${encodeURIComponent(route.id)}`;
  }
}
