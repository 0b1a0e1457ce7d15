// SPDX-License-Identifier: AGPL-3.0-or-later
import { describe, expect, it } from 'vitest';
import { moveUrl } from './Settings';

describe('ML URL order', () => {
  it('moves a URL up and down', () => {
    expect(moveUrl(['a', 'b', 'c'], 2, -1)).toEqual(['a', 'c', 'b']);
    expect(moveUrl(['a', 'b', 'c'], 0, 1)).toEqual(['b', 'a', 'c']);
  });

  it('leaves the list unchanged at the ends', () => {
    expect(moveUrl(['a', 'b'], 0, -1)).toEqual(['a', 'b']);
    expect(moveUrl(['a', 'b'], 1, 1)).toEqual(['a', 'b']);
  });
});
