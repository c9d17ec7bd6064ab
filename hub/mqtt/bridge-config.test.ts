import { describe, expect, it } from '@jest/globals';
import { parseRoute } from '../../dashboard/src/routes.js';
import { loadConfig } from '../config.js';
import { bridgeOptions, hubUrl, RETAINED_FILE } from './bridge-config.js';

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

describe('bridgeOptions: the MQTT 5 settings', () => {
  const deps = { facade: {} as never, auth: { authorize: async () => null }, tls: () => ({ key: '', cert: '' }), log: {} as never };

  it('MQTT 5 to the external broker by default, 3.1.1 with mqtt.protocolVersion; the ACL file; retained messages in dataDir', () => {
    const dflt = bridgeOptions(loadConfig({ env: { HEARTH_MQTT_URL: 'mqtt://broker:1883', HEARTH_DATA_DIR: '/var/lib/hearth' }, file: null }), deps);
    expect(dflt.external?.protocolVersion).toBe(5);
    expect(dflt.aclFile).toBeNull();
    expect(dflt.retainedFile).toBe(`/var/lib/hearth/${RETAINED_FILE}`);
    const old = bridgeOptions(loadConfig({ env: { HEARTH_MQTT_URL: 'mqtt://broker:1883', HEARTH_MQTT_PROTOCOL_VERSION: '3.1.1', HEARTH_MQTT_ACL_FILE: '/etc/hearth/acl' }, file: null }), deps);
    expect(old.external?.protocolVersion).toBe(4);
    expect(old.aclFile).toBe('/etc/hearth/acl');
  });

  it('refuses another version', () => {
    expect(() => loadConfig({ env: { HEARTH_MQTT_PROTOCOL_VERSION: '4' }, file: null })).toThrow(/mqtt.protocolVersion/);
  });
});
