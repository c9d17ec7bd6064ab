import { describe, it, expect } from '@jest/globals';
import { parseDuration, parseSimArgs, UsageError } from './args.js';

const HUB = ['--hub', 'wss://localhost:8443'];

function refusal(argv: string[]): string {
  try {
    parseSimArgs(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`accepted ${argv.join(' ')}`);
}

describe('hearth-sim arguments', () => {
  it('parses a full command line', () => {
    const args = parseSimArgs([...HUB, '--mix', 'thermostat=10,light=20,smart-plug=1', '--rate', '0.5', '--duration', '5m', '--seed', 's1', '--id-prefix', 'lab-', '--ca', 'hub.pem', '--state-dir', '/tmp/x', '--json', '--ramp', '100']);
    expect(args).toMatchObject({
      hub: 'wss://localhost:8443',
      mix: [['thermostat', 10], ['light', 20], ['smart_plug', 1]],
      rate: 0.5,
      durationMs: 300_000,
      seed: 's1',
      idPrefix: 'lab-',
      ca: 'hub.pem',
      stateDir: '/tmp/x',
      json: true,
      ramp: 100,
      insecure: false,
      provision: false,
    });
  });

  it('has defaults for everything but the hub and the fleet', () => {
    expect(parseSimArgs([...HUB, '--devices', '3'])).toEqual({ help: false, hub: 'wss://localhost:8443', hubs: ['wss://localhost:8443'], devices: 3, rate: 1, provision: false, idPrefix: 'sim-', seed: 'hearth', insecure: false, record: false, json: false, ramp: 500 });
  });

  it('--help needs nothing else', () => {
    expect(parseSimArgs(['--help']).help).toBe(true);
    expect(parseSimArgs(['-h']).help).toBe(true);
  });

  it.each([
    [['--foo'], 'unknown flag --foo'],
    [['--devices', '2', '--verbose'], 'unknown flag --verbose'],
    [['--devices', '2', '--rate', 'x'], '--rate needs a positive number, got "x"'],
    [['--devices', '2', '--rate', '-1'], '--rate needs a positive number, got "-1"'],
    [['--devices', '2', '--rate', '0'], '--rate needs a positive number, got "0"'],
    [['--devices', '2', '--rate'], '--rate needs a value'],
    [['--devices', '2', '--rate', '--json'], '--rate needs a value'],
    [['--devices', 'many'], '--devices needs a positive integer, got "many"'],
    [['--devices', '2.5'], '--devices needs a positive integer, got "2.5"'],
    [['--devices', '2', '--duration', 'soon'], '--duration needs a duration like 30s, 5m or 500ms, got "soon"'],
    [['--mix', 'thermostat'], '--mix needs model=count pairs like thermostat=10,light=20, got "thermostat"'],
    [['--mix', 'toaster=3'], '--mix: unknown model "toaster"'],
    [['--devices', '2', '--json=yes'], '--json takes no value'],
    [['--devices', '2', 'extra'], 'unexpected argument "extra"'],
    [['--devices', '2', '--mix', 'light=1'], '--devices and --mix exclude each other'],
    [['--devices', '2', '--provision'], '--provision needs --admin-token <token>'],
    [['--devices', '2', '--admin-token', 't'], '--admin-token is only used with --provision'],
    [['--devices', '2', '--ca', 'a.pem', '--insecure'], '--ca and --insecure exclude each other'],
    [['--devices', '2', '--id-prefix', 'a b'], '--id-prefix takes up to 40 of'],
    [[], 'say which devices to run'],
    [['--devices', '2', '--record'], '--record needs --state-dir DIR'],
  ])('%j is refused: %s', (extra, message) => {
    expect(refusal([...HUB, ...extra])).toContain(message);
  });

  it.each([
    [['--devices', '1'], '--hub is required'],
    [['--hub', 'http://x:1', '--devices', '1'], '--hub needs ws:// or wss:// URLs like wss://host:8443 (several: comma-separated), got "http://x:1"'],
    [['--hub', 'wss://a:1,,wss://b:1', '--devices', '1'], 'got ""'],
    [['--hub', 'wss://a:1,wss://a:1', '--devices', '1'], '--hub names an address twice'],
  ])('the hub URL is checked: %j', (argv, message) => {
    expect(refusal(argv)).toContain(message);
  });

  it('takes several hubs of one installation, comma-separated [FP-10.8]', () => {
    expect(parseSimArgs(['--hub', 'wss://a:8443, wss://b:8443', '--devices', '2'])).toMatchObject({ hub: 'wss://a:8443, wss://b:8443', hubs: ['wss://a:8443', 'wss://b:8443'] });
  });

  it('accepts --credentials alone and with --devices', () => {
    expect(parseSimArgs([...HUB, '--credentials', 'c.json'])).toMatchObject({ credentials: 'c.json' });
    expect(parseSimArgs([...HUB, '--credentials', 'c.json', '--devices', '5'])).toMatchObject({ credentials: 'c.json', devices: 5 });
  });

  it('--provision keeps new tokens in --credentials, by default in the state dir or the working directory', () => {
    const provision = [...HUB, '--devices', '2', '--provision', '--admin-token', 't'];
    expect(parseSimArgs([...provision, '--credentials', 'c.json']).credentials).toBe('c.json');
    expect(parseSimArgs([...provision, '--state-dir', 'st']).credentials).toBe('st/credentials.json');
    expect(parseSimArgs(provision).credentials).toBe('hearth-sim-credentials.json');
  });

  it('parses durations', () => {
    expect(['500ms', '30s', '5m', '1h', '2', '1.5s'].map(parseDuration)).toEqual([500, 30_000, 300_000, 3_600_000, 2000, 1500]);
    expect(['', 'x', '5d', '-1s', '0s'].map(parseDuration)).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });
});
