// SPDX-License-Identifier: AGPL-3.0-or-later
import { describe, expect, it } from 'vitest';
import { effectiveMode } from './Search';

describe('search mode', () => {
  const on = { smartSearch: true, facialRecognition: true, duplicateDetection: true, ocr: true };
  const off = { ...on, smartSearch: false, ocr: false };

  it('is smart by default when Smart Search is on', () => {
    expect(effectiveMode(undefined, on)).toBe('smart');
  });

  it('falls back to keyword when Smart Search is off, even if smart was asked for', () => {
    expect(effectiveMode(undefined, off)).toBe('keyword');
    expect(effectiveMode('smart', off)).toBe('keyword');
  });

  it('uses OCR only when the server has it', () => {
    expect(effectiveMode('ocr', on)).toBe('ocr');
    expect(effectiveMode('ocr', off)).toBe('keyword');
  });

  it('keeps keyword when asked for', () => {
    expect(effectiveMode('keyword', on)).toBe('keyword');
  });
});
