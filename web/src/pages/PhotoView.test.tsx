// SPDX-License-Identifier: AGPL-3.0-or-later
import { describe, expect, it } from 'vitest';
import type { Face } from '../types';
import { boxStyle } from './PhotoView';

const face = (x1: number, y1: number, x2: number, y2: number): Face => ({
  id: 1,
  assetId: 1,
  imageWidth: 1000,
  imageHeight: 500,
  boundingBoxX1: x1,
  boundingBoxY1: y1,
  boundingBoxX2: x2,
  boundingBoxY2: y2,
  sourceType: 'machine-learning',
  person: null,
});

describe('face boxes', () => {
  it('are placed as percentages of the image the detector saw', () => {
    expect(boxStyle(face(100, 50, 300, 250))).toEqual({
      left: '10.000%',
      top: '10.000%',
      width: '20.000%',
      height: '40.000%',
    });
  });

  it('survive a face without image size', () => {
    const style = boxStyle({ ...face(0, 0, 1, 1), imageWidth: 0, imageHeight: 0 });
    expect(style.width).toBe('100.000%');
  });
});
