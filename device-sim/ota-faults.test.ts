import { describe, expect, it } from '@jest/globals';
import { parseSimArgs } from './args.js';
import { OtaFaultError, parseOtaFaults } from './ota-faults.js';

describe('--ota-fault [FP-14]', () => {
  it('[FP-14.6][FP-14.7] parses every fault, repeatable disconnects in order of the text', () => {
    expect(parseOtaFaults('disconnect@0.3+disconnect@0.6+corrupt@0.5+bad-hash+refuse=downgrade+defer=2+rollback+window=8')).toEqual({
      disconnectAt: [0.3, 0.6], corruptAt: 0.5, badHash: true, refuse: 'downgrade', defer: 2, rollback: true, window: 8,
    });
    expect(parseOtaFaults('defer')).toEqual({ defer: 1 });
  });

  it('refuses what it cannot mean, naming the part', () => {
    for (const [text, part] of [['disconnect@2', 'disconnect@2'], ['corrupt', 'corrupt'], ['refuse=No!', 'refuse=No!'], ['window=65', 'window=65'], ['explode', 'unknown fault "explode"']] as const) {
      expect(() => parseOtaFaults(text)).toThrow(OtaFaultError);
      expect(() => parseOtaFaults(text)).toThrow(part);
    }
  });

  it('hearth-sim --ota-fault takes entries per device id, or for every device without an id', () => {
    const args = parseSimArgs(['--hub', 'wss://h:8443', '--devices', '3', '--ota-fault', 'sim-1:disconnect@0.5,rollback']);
    expect(args.otaFaults).toEqual(new Map([['sim-1', { disconnectAt: [0.5] }], ['*', { rollback: true }]]));
    expect(() => parseSimArgs(['--hub', 'wss://h:8443', '--devices', '3', '--ota-fault', 'sim-1:nope'])).toThrow('--ota-fault sim-1:nope');
  });
});
