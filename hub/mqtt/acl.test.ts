// The broker's ACL (issue #11 §2): roles, the hub's namespace, and the Mosquitto-format ACL file that refines
// them; the topic-filter rules they stand on.
import { describe, expect, it } from '@jest/globals';
import type { Role } from '../auth/user-store.js';
import { Acl, type AclSubject } from './acl.js';
import { AclFile } from './acl-file.js';
import { filterCovers, topicMatches } from './topic-filter.js';
import { Topics } from './topics.js';

const t = new Topics('hearth', 'homeassistant');
const as = (role: Role, user: string | null = role, clientId = `${role}-1`): AclSubject => ({ role, user, clientId });

describe('topic filters', () => {
  it.each([
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['a/+', 'a/b', true],
    ['a/+', 'a/b/c', false],
    ['+/b', 'a/b', true],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['a/b', 'a/b', true],
    ['a/b', 'a/c', false],
  ])('%s matches %s: %s [MQTT-4.7.2-1]', (filter, topic, want) => {
    expect(topicMatches(filter, topic)).toBe(want);
  });

  it.each([
    ['a/#', 'a/+/b', true],
    ['a/#', 'a/#', true],
    ['a/+', 'a/#', false],
    ['a/+', 'a/+', true],
    ['a/b', 'a/+', false],
    ['#', '$SYS/#', false],
    ['+/+', 'a/+', true],
    ['a/#', '#', false],
  ])('%s covers %s: %s', (outer, inner, want) => {
    expect(filterCovers(outer, inner)).toBe(want);
  });
});

describe('ACL by role', () => {
  const acl = new Acl(t);

  it('admin and integration: commands, bridge requests and HA status in the hub namespace, nothing else of it', () => {
    for (const role of ['admin', 'integration'] as const) {
      for (const topic of ['hearth/d1/set/on', 'homeassistant/status', 'hearth/bridge/request/device/add']) {
        expect({ topic, ok: acl.canPublish(as(role), topic) }).toEqual({ topic, ok: true });
      }
      const hubOnly = ['hearth/bridge/response/devices', 'hearth/bridge/info', 'hearth/bridge/health', 'hearth/bridge/event', 'hearth/bridge/canary', 'hearth/bridge/devices'];
      const deviceTopics = ['hearth/d1/state', 'hearth/d1/on', 'hearth/d1/availability', 'hearth/bridge/state', 'hearth/d1/set/on/result', 'hearth'];
      const discovery = ['homeassistant/sensor/hearth_d1/temperature/config', 'homeassistant/device/hearth_d1/config', 'homeassistant/device/hearth_bridge_hearth/config'];
      for (const topic of [...hubOnly, ...deviceTopics, ...discovery, '$SYS/x']) {
        expect({ topic, ok: acl.canPublish(as(role), topic) }).toEqual({ topic, ok: false });
      }
    }
  });

  it('admin and integration write any topic outside the hub namespace: other integrations and their discovery', () => {
    for (const role of ['admin', 'integration'] as const) {
      for (const topic of ['tasmota/plug1/POWER', 'shellies/shelly1/relay/0', 'homeassistant/sensor/0x00158d/temperature/config', 'homeassistant/device/zigbee2mqtt_x/config', 'hearthling/x', 'nodered/flow']) {
        expect({ topic, ok: acl.canPublish(as(role), topic) }).toEqual({ topic, ok: true });
      }
    }
  });

  it('viewer writes nothing and reads everything but $-topics', () => {
    for (const topic of ['hearth/d1/set/on', 'hearth/bridge/request/devices', 'tasmota/plug1/POWER', 'homeassistant/status']) {
      expect(acl.canPublish(as('viewer'), topic)).toBe(false);
    }
    for (const filter of ['#', 'hearth/+/state', 'tasmota/#', '+/+']) expect(acl.canSubscribe(as('viewer'), filter)).toBe(true);
    expect(acl.canSubscribe(as('viewer'), '$SYS/+/new/clients')).toBe(false);
  });

  it('$-topics are read by admin only', () => {
    expect(acl.canSubscribe(as('admin'), '$SYS/#')).toBe(true);
    expect(acl.canSubscribe(as('integration'), '$SYS/#')).toBe(false);
  });

  it('knows the hub namespace and the inbound topics (whose retain flag the broker clears)', () => {
    expect(acl.isHubTopic('hearth/d1/state')).toBe(true);
    expect(acl.isHubTopic('homeassistant/light/hearth_d1/on/config')).toBe(true);
    expect(acl.isHubTopic('homeassistant/light/tasmota_d1/on/config')).toBe(false);
    expect(acl.isHubTopic('homeassistant/status')).toBe(false);
    expect(acl.isInbound('hearth/d1/set/on')).toBe(true);
    expect(acl.isInbound('homeassistant/status')).toBe(true);
    expect(acl.isInbound('tasmota/x')).toBe(false);
  });
});

describe('ACL file (Mosquitto format)', () => {
  const file = AclFile.parse(
    [
      '# anonymous clients',
      'topic read public/#',
      '',
      'user nodered',
      'topic readwrite nodered/#',
      'topic read tasmota/#',
      'topic deny tasmota/secret/#',
      'topic hearth/#',
      'user ha',
      'topic #',
      'pattern write shellies/%c/#',
      'pattern read users/%u/#',
    ].join('\n'),
  );
  const acl = new Acl(t, file);
  const nodered = as('integration', 'nodered', 'nr-1');

  it('refines a role per user: only what the file grants, and never more than the role', () => {
    expect(acl.canPublish(nodered, 'nodered/out')).toBe(true);
    expect(acl.canPublish(nodered, 'tasmota/plug/cmnd')).toBe(false); // read only
    expect(acl.canSubscribe(nodered, 'tasmota/+/POWER')).toBe(true);
    expect(acl.canSubscribe(nodered, '#')).toBe(false); // not covered by any read line: SUBACK 0x80 / 0x87
    // readwrite hearth/# does not let it write state: the role's namespace rule still holds.
    expect(acl.canPublish(nodered, 'hearth/d1/state')).toBe(false);
    expect(acl.canPublish(nodered, 'hearth/d1/set/on')).toBe(true);
    const viewer = as('viewer', 'ha');
    expect(acl.canPublish(viewer, 'anything')).toBe(false);
  });

  it('deny wins: a denied filter is refused, and a message under it is not delivered within a wider filter', () => {
    expect(acl.canSubscribe(nodered, 'tasmota/secret/#')).toBe(false);
    expect(acl.canSubscribe(nodered, 'tasmota/#')).toBe(true);
    expect(acl.canRead(nodered, 'tasmota/secret/key')).toBe(false);
    expect(acl.canRead(nodered, 'tasmota/plug/POWER')).toBe(true);
  });

  it('pattern lines apply to every client with %u and %c; topic lines before any user line to anonymous clients', () => {
    expect(acl.canPublish(as('integration', 'ha', 'shelly1'), 'shellies/shelly1/relay/0')).toBe(true);
    expect(acl.canPublish(as('integration', 'nodered', 'shelly1'), 'shellies/shelly1/relay/0')).toBe(true);
    expect(acl.canPublish(as('integration', 'nodered', 'shelly2'), 'shellies/shelly1/relay/0')).toBe(false);
    // A client id with a wildcard never matches a %c pattern (it would widen the filter).
    expect(acl.canPublish(as('integration', 'nodered', '#'), 'shellies/x/relay/0')).toBe(false);
    expect(acl.canRead(as('integration', 'nodered'), 'users/nodered/inbox')).toBe(true);
    expect(acl.canRead(as('integration', 'nodered'), 'users/ha/inbox')).toBe(false);
    const anon = as('viewer', null, 'anon');
    expect(acl.canSubscribe(anon, 'public/#')).toBe(true);
    expect(acl.canSubscribe(anon, 'users/+/inbox')).toBe(false);
    // A user without a section gets only the pattern lines.
    expect(acl.canSubscribe(as('integration', 'stranger'), 'public/#')).toBe(false);
  });

  it.each([
    ['bogus x', '1: unknown directive "bogus"'],
    ['user', '1: user needs a name'],
    ['user a\ntopic read', '2: topic read needs a topic filter'],
    ['topic read a/#/b', '1: "a/#/b" is not a valid topic filter'],
    ['pattern write a+/b', '1: "a+/b" is not a valid topic filter'],
  ])('refuses %j with HUB_ERR_MQTT_ACL_FILE and the line', (text, why) => {
    expect(() => AclFile.parse(text, 'acl')).toThrow(`HUB_ERR_MQTT_ACL_FILE: acl:${why}`);
  });

  it('refuses a file it cannot read', () => {
    expect(() => AclFile.load('/nonexistent/acl')).toThrow(/^HUB_ERR_MQTT_ACL_FILE: cannot read \/nonexistent\/acl/);
  });
});
