import { describe, expect, it } from '@jest/globals';
import { parseRoute } from '../../dashboard/src/routes.js';
import { hubUrl } from './bridge-config.js';

describe('hubUrl (configuration_url base)', () => {
  it('uses the bound host, or the machine name for a wildcard bind', () => {
    expect(hubUrl({ host: '192.168.1.5', port: 8443 })).toBe('https://192.168.1.5:8443');
    expect(hubUrl({ host: '0.0.0.0', port: 8443 }, () => 'hearth-box')).toBe('https://hearth-box:8443');
    expect(hubUrl({ host: '::1', port: 9 })).toBe('https://[::1]:9');
  });

  it('none without a fixed port', () => {
    expect(hubUrl({ host: '127.0.0.1', port: 0 })).toBeNull();
    expect(hubUrl({ host: '127.0.0.1', port: null })).toBeNull();
  });

  it("the device page discovery links to is the dashboard's device route", () => {
    expect(parseRoute(`#/device/${encodeURIComponent('a b')}`)).toEqual({ name: 'device', id: 'a b' });
    expect(parseRoute('#/hub')).toEqual({ name: 'hub' });
  });
});
