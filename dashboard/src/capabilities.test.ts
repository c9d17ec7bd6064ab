import { describe, expect, it } from '@jest/globals';
import type { CapabilitySummary } from '../../hub/mqtt/topics.js';
import { chartMetrics, controlFor, niceStep, sliderStep, tileLayout, TILE_VALUES } from './capabilities.js';

const cap = (over: Partial<CapabilitySummary>): CapabilitySummary => ({
  name: 'x',
  valueType: 'float',
  unit: '',
  deviceClass: '',
  writable: false,
  event: false,
  ...over,
});

describe('controlFor', () => {
  it('gives each writable kind its control, and read-only capabilities none', () => {
    expect(controlFor(cap({ valueType: 'bool', writable: true }))).toEqual({ kind: 'toggle' });
    expect(controlFor(cap({ valueType: 'int', writable: true, min: 0, max: 100 }))).toEqual({ kind: 'slider', min: 0, max: 100, step: 1 });
    expect(controlFor(cap({ valueType: 'float', writable: true, min: 5, max: 30 }))).toEqual({ kind: 'slider', min: 5, max: 30, step: 0.5 });
    expect(controlFor(cap({ valueType: 'float', writable: true }))).toEqual({ kind: 'stepper', step: 0.1 });
    expect(controlFor(cap({ valueType: 'int', writable: true, min: 3, max: 3 }))).toEqual({ kind: 'stepper', step: 1 });
    expect(controlFor(cap({ valueType: 'enum', writable: true, options: ['off', 'heat'] }))).toEqual({ kind: 'select', options: ['off', 'heat'] });
    expect(controlFor(cap({ valueType: 'string', writable: true }))).toEqual({ kind: 'text' });
    expect(controlFor(cap({ valueType: 'bool' }))).toBeNull();
  });

  it('steps sliders on a 1-2-5 grid', () => {
    expect(niceStep(0.25)).toBe(0.5);
    expect(niceStep(0.1)).toBe(0.1);
    expect(niceStep(0.30000000000000004)).toBe(0.5);
    expect(niceStep(3)).toBe(5);
    expect(niceStep(0)).toBe(1);
    expect(sliderStep('int', 65535)).toBe(100);
    expect(sliderStep('float', 1)).toBe(0.01);
  });
});

describe('tileLayout and chartMetrics', () => {
  it('splits a device into values, battery and controls', () => {
    const caps = [
      cap({ name: 'contact', valueType: 'enum', event: true, options: ['closed', 'open'] }),
      cap({ name: 'battery', valueType: 'int', deviceClass: 'battery', unit: '%' }),
      cap({ name: 'setpoint', writable: true, min: 5, max: 30 }),
      cap({ name: 'temperature' }),
    ];
    const layout = tileLayout({ capabilities: caps });
    expect(layout.values.map((c) => c.name)).toEqual(['contact', 'temperature']);
    expect(layout.battery?.name).toBe('battery');
    expect(layout.controls.map((c) => c.name)).toEqual(['setpoint']);
    expect(chartMetrics({ capabilities: caps }).map((c) => c.name)).toEqual(['battery', 'setpoint', 'temperature']);
  });

  it('shows at most TILE_VALUES values on a tile', () => {
    const caps = Array.from({ length: 10 }, (_, i) => cap({ name: `m${i}` }));
    expect(tileLayout({ capabilities: caps }).values).toHaveLength(TILE_VALUES);
  });
});
