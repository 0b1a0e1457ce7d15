// SPDX-License-Identifier: AGPL-3.0-or-later
import { describe, expect, it } from 'vitest';
import { bytes, dateTime, monthTitle, plural } from './format';

describe('formats', () => {
  it('sizes', () => {
    expect(bytes(512)).toBe('512 B');
    expect(bytes(1536)).toBe('1.5 KB');
    expect(bytes(5 * 1024 * 1024)).toBe('5.0 MB');
    expect(bytes(undefined)).toBe('');
  });

  it('months in UTC', () => {
    expect(monthTitle('2024-05-01T00:00:00.000Z')).toMatch(/2024/);
  });

  it('keeps an unparsable date as given', () => {
    expect(dateTime('not a date')).toBe('not a date');
    expect(dateTime(null)).toBe('');
  });

  it('plurals', () => {
    expect(plural(1, 'face')).toBe('1 face');
    expect(plural(3, 'face')).toBe('3 faces');
  });
});
