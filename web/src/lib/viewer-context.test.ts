// SPDX-License-Identifier: AGPL-3.0-or-later
import { beforeEach, describe, expect, it } from 'vitest';
import { neighbours, setViewerContext } from './viewer-context';

describe('viewer context', () => {
  beforeEach(() => sessionStorage.clear());

  it('steps through the list the viewer was opened from', () => {
    setViewerContext([5, 9, 2]);
    expect(neighbours(9)).toEqual({ previous: 5, next: 2 });
    expect(neighbours(5)).toEqual({ previous: undefined, next: 9 });
  });

  it('has no neighbours for a photo outside the list or with corrupt storage', () => {
    setViewerContext([1]);
    expect(neighbours(7)).toEqual({});
    sessionStorage.setItem('focal.viewer.ids', '{bad');
    expect(neighbours(1)).toEqual({});
  });
});
