// docs/mqtt.md and the code must agree: error codes both ways, and the topic table's retained column.
import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { USER_ERROR_CODES } from '../auth/user-store.js';
import { ACL_FILE_ERROR_CODES } from './acl-file.js';
import { MQTT_LOG_CODES } from './embedded-broker.js';
import { INBOUND, RETAINED, Topics, type TopicKind } from './topics.js';

const docs = fs.readFileSync(path.join(fileURLToPath(new URL('.', import.meta.url)), '../../docs/mqtt.md'), 'utf8');

describe('docs/mqtt.md', () => {
  it('tables every error code of the code, and no other', () => {
    const inCode = new Set<string>([...MQTT_LOG_CODES, ...USER_ERROR_CODES, ...ACL_FILE_ERROR_CODES]);
    const inDocs = new Set([...docs.matchAll(/^\| `(HUB_ERR_(?:MQTT|USER)[A-Z_]*)` \|/gm)].map((m) => m[1]!));
    expect([...inDocs].sort()).toEqual([...inCode].sort());
  });

  it("topic table: every topic of the code's map and no other, with its retained flag, direction and writer", () => {
    const t = new Topics('<base>', '<prefix>');
    const rows: Record<TopicKind, string> = {
      state: t.state('<device>'),
      metric: t.metric('<device>', '<metric>')!,
      availability: t.availability('<device>'),
      readings: t.readings('<device>'),
      event: t.event('<device>', '<name>'),
      set: t.set('<device>', '<command>'),
      setResult: t.setResult('<device>', '<command>'),
      update: t.update('<device>'),
      updateInstall: t.updateInstall('<device>'),
      bridgeState: t.bridgeState(),
      bridgeDevices: t.bridgeDevices(),
      bridgeInfo: t.bridgeInfo(),
      bridgeHealth: t.bridgeHealth(),
      bridgeEvent: t.bridgeEvent(),
      bridgeRequest: t.bridgeRequest('<verb>'),
      bridgeResponse: t.bridgeResponse('<verb>'),
      bridgeCanary: t.bridgeCanary(),
      hubState: t.hubState('<hub.id>'),
      hubCanary: t.hubCanary('<hub.id>'),
      discovery: t.discovery('<component>', '<node_id>', '<object_id>'),
      discoveryStatus: t.discoveryStatus(),
    };
    const tableTopics = [...docs.matchAll(/^\| `([^`]+)` \| (?:yes|no|\(in\)) \|/gm)].map((m) => m[1]!);
    // The discovery kind has two forms (mqtt.discoveryMode): per entity, and device-based.
    const deviceDiscovery = t.deviceDiscovery('<node_id>');
    expect(tableTopics.sort()).toEqual([...Object.values(rows), deviceDiscovery].sort());
    expect(docs.split('\n').find((l) => l.startsWith(`| \`${deviceDiscovery}\` | yes | hub → clients | hub |`))).toBeDefined();
    for (const [kind, topic] of Object.entries(rows) as [TopicKind, string][]) {
      const row = docs.split('\n').find((l) => l.startsWith(`| \`${topic}\` |`));
      expect({ kind, row: row ?? 'missing' }).toEqual({ kind, row: expect.stringMatching(/^\| `[^`]+` \| (yes|no|\(in\)) \|/) });
      const [, , flag, direction, writer, payload] = row!.split('|').map((c) => c.trim());
      const inbound = INBOUND.includes(kind);
      expect({ kind, retained: flag === 'yes', inbound: flag === '(in)' }).toEqual({ kind, retained: RETAINED[kind], inbound });
      expect({ kind, direction, hubWrites: /^hub\b/.test(writer!) }).toEqual({ kind, direction: inbound ? 'clients → hub' : 'hub → clients', hubWrites: !inbound });
      expect({ kind, hasExample: (payload ?? '').length > 5 }).toEqual({ kind, hasExample: true });
    }
  });
});
