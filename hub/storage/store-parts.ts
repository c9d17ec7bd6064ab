import type { Statement, Transaction } from 'better-sqlite3';
import type { ValueType } from '../../protocol/types.js';
import { CommandLog } from './command-log.js';
import { CommitWriter } from './commit-writer.js';
import { CompactionPass } from './compaction/pass.js';
import type { Db } from './database.js';
import { DeviceTable } from './device-table.js';
import { StoreError } from './errors.js';
import { EventLog } from './event-log.js';
import { FirmwareTable } from './firmware-table.js';
import { History } from './history.js';
import type { DrainSlice } from './journal/ingest-journal.js';
import type { JournalPosition } from './journal/journal-segments.js';
import type { Native } from './native-value.js';
import { Retention } from './retention.js';
import { Rollups } from './rollups.js';
import { SeriesCatalog } from './series-catalog.js';
import type { RetentionPolicy } from './types.js';

/** Everything prepared once per open(), after migration. */
export interface StoreParts {
  db: Db;
  devices: DeviceTable;
  catalog: SeriesCatalog;
  writer: CommitWriter;
  compaction: CompactionPass;
  retention: Retention;
  history: History;
  events: EventLog;
  commands: CommandLog;
  firmware: FirmwareTable;
  tx: {
    removeDevice: Transaction<(id: string) => boolean>;
    resolveSeries: Transaction<(deviceId: string, metric: string, type: ValueType) => number>;
    /** A read transaction (deferred BEGIN): the log and chunks it reads are one snapshot. */
    snapshot: <T>(read: () => T) => T;
    /** Stores a slice of the ingest journal and moves its marker, in one immediate transaction. */
    drain: Transaction<(slice: DrainSlice) => void>;
  };
  sql: {
    stored: Statement<[string], [number, number, Native]>;
    logTail: Statement<[], [number, number, Native]>;
    counts: Statement<[], { pending: number; chunks: number; stored: number }>;
    dataVersion: Statement<[], number>;
    deviceChanges: Statement<[], number>;
    space: Statement<[], { name: string; bytes: number }>;
    journalMarker: Statement<[], JournalPosition>;
  };
}

/** Prepares HubStore's statements and transactions on a migrated connection (throws what prepare() throws). */
export function prepareParts(db: Db, retention: RetentionPolicy, now: () => number): StoreParts {
  const catalog = new SeriesCatalog(db);
  const rollups = new Rollups(db);
  const events = new EventLog(db);
  const devices = new DeviceTable(db);
  const compaction = new CompactionPass(db);
  const removeLog = db.prepare<[string]>('DELETE FROM log WHERE series IN (SELECT id FROM series WHERE device_id = ?)');
  const dropLatest = db.prepare<[number]>('DELETE FROM series_latest WHERE series = ?');
  const snapshot = db.transaction((read: () => unknown) => read());
  const writer = new CommitWriter(db, events);
  const journalMarker = db.prepare('SELECT segment, offset AS end FROM ingest_journal WHERE id = 1') as unknown as Statement<[], JournalPosition>;
  const moveMarker = db.prepare<[number, number]>('UPDATE ingest_journal SET segment = ?, offset = ? WHERE id = 1');
  return {
    db,
    devices,
    catalog,
    writer,
    compaction,
    retention: new Retention(db, retention, now),
    history: new History(db, rollups),
    events,
    commands: new CommandLog(db),
    firmware: new FirmwareTable(db),
    tx: {
      removeDevice: db.transaction((id: string) => {
        removeLog.run(id); // the log has no foreign key (see the schema): its rows go by hand
        return devices.remove(id);
      }),
      resolveSeries: db.transaction((deviceId: string, metric: string, type: ValueType) => {
        const found = catalog.find(deviceId, metric);
        if (!found) return catalog.create(deviceId, metric, type).id;
        if (found.type === type) return found.id;
        compaction.moveSeries(found.id);
        // The stored latest value has the old type, which the metric no longer declares.
        dropLatest.run(found.id);
        return catalog.retype(found, type).id;
      }),
      snapshot: <T>(read: () => T): T => snapshot.deferred(read) as T,
      drain: db.transaction((slice: DrainSlice) => {
        const at = journalMarker.get()!;
        // One hub owns a journal; a marker it did not move means another process replayed the same records.
        if (at.segment !== slice.after.segment || at.end !== slice.after.end) {
          throw new StoreError(
            'HUB_ERR_JOURNAL_CORRUPT',
            `the database's journal marker is at ${at.segment}:${at.end}, not ${slice.after.segment}:${slice.after.end}: another process drained this journal`,
          );
        }
        writer.apply(slice.batch);
        moveMarker.run(slice.through.segment, slice.through.end);
      }),
    },
    sql: {
      stored: db
        .prepare('SELECT l.series, l.ts, l.value FROM series_latest l JOIN series s ON s.id = l.series WHERE s.device_id = ?')
        .raw() as unknown as Statement<[string], [number, number, Native]>,
      // One value per series: SQLite takes the bare column `value` from the row holding max(ts).
      logTail: db.prepare('SELECT series, max(ts), value FROM log GROUP BY series').raw() as unknown as Statement<[], [number, number, Native]>,
      counts: db.prepare(
        'SELECT (SELECT count(*) FROM log) AS pending, (SELECT count(*) FROM chunks) AS chunks, (SELECT total(n) FROM chunks) AS stored',
      ),
      dataVersion: db.prepare('PRAGMA data_version').pluck() as unknown as Statement<[], number>,
      deviceChanges: db.prepare('SELECT version FROM device_changes WHERE id = 1').pluck() as unknown as Statement<[], number>,
      space: db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC'),
      journalMarker,
    },
  };
}
