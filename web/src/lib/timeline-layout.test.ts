// SPDX-License-Identifier: AGPL-3.0-or-later
import { describe, expect, it } from 'vitest';
import { computeLayout, visibleSections } from './timeline-layout';

const options = { width: 1000, targetTile: 190, gap: 4, headerHeight: 40 };

describe('computeLayout', () => {
  it('fits as many columns as the target size allows and fills the width', () => {
    const layout = computeLayout([10], options);
    expect(layout.columns).toBe(5);
    expect(layout.tile * layout.columns + options.gap * (layout.columns - 1)).toBeCloseTo(1000);
  });

  it('stacks sections by header plus rows', () => {
    const layout = computeLayout([5, 6, 0], options);
    expect(layout.sections.map((s) => s.rows)).toEqual([1, 2, 0]);
    expect(layout.sections[1].top).toBeCloseTo(40 + layout.rowHeight);
    expect(layout.sections[2].height).toBe(40);
    expect(layout.totalHeight).toBeCloseTo(3 * 40 + 3 * layout.rowHeight);
  });

  it('keeps one column on a very narrow screen', () => {
    const layout = computeLayout([3], { ...options, width: 100 });
    expect(layout.columns).toBe(1);
    expect(layout.sections[0].rows).toBe(3);
  });
});

describe('visibleSections', () => {
  const counts = Array.from({ length: 1000 }, () => 100); // 100 k assets
  const layout = computeLayout(counts, options);

  it('renders only the rows in view at the top', () => {
    const visible = visibleSections(layout, 0, 800, 0, 40);
    expect(visible[0].section.index).toBe(0);
    expect(visible[0].firstRow).toBe(0);
    const rows = visible.reduce((sum, v) => sum + v.lastRow - v.firstRow, 0);
    expect(rows).toBeLessThanOrEqual(Math.ceil(800 / layout.rowHeight) + 2);
  });

  it('finds the right section deep in a large library', () => {
    const target = layout.sections[777];
    const visible = visibleSections(layout, target.top + 40 + 3 * layout.rowHeight, 400, 0, 40);
    expect(visible[0].section.index).toBe(777);
    expect(visible[0].firstRow).toBe(3);
  });

  it('returns nothing past the end', () => {
    expect(visibleSections(layout, layout.totalHeight + 10, 500, 0, 40)).toEqual([]);
  });
});
