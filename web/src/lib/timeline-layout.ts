// SPDX-License-Identifier: AGPL-3.0-or-later
// Geometry of the virtualised timeline: every month bucket is a header plus rows of square tiles, so the
// height of the whole library is known from the bucket counts alone, before any asset is loaded. Only the
// rows that intersect the viewport are rendered, which keeps 100 k assets as cheap as 100.

export interface LayoutOptions {
  width: number; // content width in px
  targetTile: number; // preferred tile edge in px
  gap: number;
  headerHeight: number;
}

export interface Section {
  index: number;
  top: number; // px from the top of the scroll content
  height: number;
  rows: number;
}

export interface Layout {
  columns: number;
  tile: number; // tile edge in px
  rowHeight: number; // tile + gap
  sections: Section[];
  totalHeight: number;
}

export function computeLayout(counts: readonly number[], options: LayoutOptions): Layout {
  const { width, targetTile, gap, headerHeight } = options;
  const columns = Math.max(1, Math.floor((Math.max(width, 0) + gap) / (targetTile + gap)));
  const tile = Math.max(1, (Math.max(width, columns) - (columns - 1) * gap) / columns);
  const rowHeight = tile + gap;
  const sections: Section[] = [];
  let top = 0;
  counts.forEach((count, index) => {
    const rows = Math.ceil(Math.max(count, 0) / columns);
    const height = headerHeight + rows * rowHeight;
    sections.push({ index, top, height, rows });
    top += height;
  });
  return { columns, tile, rowHeight, sections, totalHeight: top };
}

export interface VisibleSection {
  section: Section;
  firstRow: number; // inclusive
  lastRow: number; // exclusive
}

// The sections (and their row ranges) that intersect [viewTop - overscan, viewTop + viewHeight + overscan].
// Binary search for the first section, so scrolling is O(visible) whatever the library size.
export function visibleSections(
  layout: Layout,
  viewTop: number,
  viewHeight: number,
  overscan: number,
  headerHeight: number,
): VisibleSection[] {
  const start = Math.max(0, viewTop - overscan);
  const end = viewTop + viewHeight + overscan;
  const { sections, rowHeight } = layout;
  let low = 0;
  let high = sections.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (sections[mid].top + sections[mid].height <= start) low = mid + 1;
    else high = mid;
  }
  const out: VisibleSection[] = [];
  for (let i = low; i < sections.length && sections[i].top < end; i++) {
    const section = sections[i];
    const rowsTop = section.top + headerHeight;
    // The epsilon keeps float error from pulling in the row above an exact row boundary.
    const firstRow = Math.max(0, Math.floor((start - rowsTop) / rowHeight + 1e-6));
    const lastRow = Math.min(section.rows, Math.ceil((end - rowsTop) / rowHeight));
    out.push({ section, firstRow, lastRow: Math.max(firstRow, lastRow) });
  }
  return out;
}
