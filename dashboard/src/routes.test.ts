import { describe, expect, it } from '@jest/globals';
import { parseRoute, routeHash, type Route } from './routes.js';

describe('parseRoute', () => {
  it.each([
    ['', { name: 'home' }],
    ['#', { name: 'home' }],
    ['#/', { name: 'home' }],
    ['#/hub', { name: 'hub' }],
    ['#/hub/', { name: 'hub' }],
    ['#/firmware', { name: 'firmware' }],
    ['#/device/kitchen-thermostat', { name: 'device', id: 'kitchen-thermostat' }],
    ['#device/a.b_c', { name: 'device', id: 'a.b_c' }],
    ['#/device/with%20space', { name: 'device', id: 'with space' }],
    ['#/device/', { name: 'home' }],
    ['#/device/%E0%A4%A', { name: 'home' }],
    ['#/device/a/b', { name: 'home' }],
    ['#/nowhere', { name: 'home' }],
    ['#/activity', { name: 'activity' }],
    ['#/users', { name: 'users' }],
    ['#/account', { name: 'account' }],
    ['#/users/x', { name: 'home' }],
  ] as [string, Route][])('reads %j', (hash, route) => {
    expect(parseRoute(hash)).toEqual(route);
  });

  it('reads back every hash it builds', () => {
    const routes: Route[] = [{ name: 'home' }, { name: 'hub' }, { name: 'activity' }, { name: 'users' }, { name: 'account' }, { name: 'firmware' }, { name: 'device', id: 'a/b?c#d %' }, { name: 'device', id: 'plain' }];
    for (const route of routes) expect(parseRoute(routeHash(route))).toEqual(route);
  });
});
