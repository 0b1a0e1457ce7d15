// SPDX-License-Identifier: AGPL-3.0-or-later
// The timeline: every photo, newest month first, in a virtualised grid. Bucket counts give the full scroll
// height up front; a month's assets are fetched when it scrolls into view and only visible rows are rendered.
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, thumbnailUrl } from '../api';
import { Uploader } from '../components/Uploader';
import { Loading, Notice, errorText } from '../components/ui';
import { monthTitle, plural } from '../lib/format';
import { computeLayout, visibleSections } from '../lib/timeline-layout';
import { setViewerContext } from '../lib/viewer-context';
import type { TimelineAsset, TimelineBucket } from '../types';

const HEADER = 48;
const GAP = 4;
const OVERSCAN = 600;

function tileTarget(width: number): number {
  return width < 500 ? 110 : 180;
}

export function Timeline() {
  const [buckets, setBuckets] = useState<TimelineBucket[] | null>(null);
  const [error, setError] = useState<string>();
  const [assets, setAssets] = useState<Map<string, TimelineAsset[]>>(new Map());
  const requested = useRef(new Set<string>());
  const scroller = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 800, width: 1000 });

  const loadBuckets = useCallback(async () => {
    try {
      const list = await api.timelineBuckets();
      requested.current.clear();
      setAssets(new Map());
      setBuckets(list);
      setError(undefined);
    } catch (e) {
      setError(errorText(e));
    }
  }, []);
  useEffect(() => {
    void loadBuckets();
  }, [loadBuckets]);

  useLayoutEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const measure = () =>
      setView({ top: element.scrollTop, height: element.clientHeight, width: element.clientWidth - 2 * GAP });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    let frame = 0;
    const onScroll = () => {
      if (frame) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        measure();
      });
    };
    element.addEventListener('scroll', onScroll, { passive: true });
    return () => {
      observer.disconnect();
      element.removeEventListener('scroll', onScroll);
      if (frame) cancelAnimationFrame(frame);
    };
  }, [buckets !== null]);

  const layout = useMemo(
    () =>
      computeLayout(
        (buckets ?? []).map((b) => b.count),
        { width: view.width, targetTile: tileTarget(view.width), gap: GAP, headerHeight: HEADER },
      ),
    [buckets, view.width],
  );
  const visible = visibleSections(layout, view.top, view.height, OVERSCAN, HEADER);

  // Fetch the months in view that are not loaded yet.
  useEffect(() => {
    if (!buckets) return;
    for (const { section } of visible) {
      const key = buckets[section.index].timeBucket;
      if (requested.current.has(key)) continue;
      requested.current.add(key);
      api
        .timelineBucket(key)
        .then((result) => setAssets((old) => new Map(old).set(key, result.assets)))
        .catch((e) => {
          requested.current.delete(key);
          setError(errorText(e));
        });
    }
  });

  const openAt = () => {
    if (!buckets) return;
    const ids: number[] = [];
    for (const bucket of buckets) for (const asset of assets.get(bucket.timeBucket) ?? []) ids.push(asset.id);
    setViewerContext(ids);
  };

  const total = (buckets ?? []).reduce((sum, b) => sum + b.count, 0);
  return (
    <section class="page timeline-page" aria-labelledby="timeline-title">
      <div class="page-head">
        <h1 id="timeline-title">Photos</h1>
        {buckets && <span class="muted">{plural(total, 'photo')}</span>}
        <Uploader onUploaded={() => void loadBuckets()} />
      </div>
      {error && <Notice>{error}</Notice>}
      {!buckets && !error && <Loading what="the timeline" />}
      {buckets && buckets.length === 0 && (
        <Notice kind="info">No photos yet. Upload some (or drop them here), or import a folder with the CLI.</Notice>
      )}
      <div class="timeline" ref={scroller} tabIndex={-1} data-testid="timeline-scroller">
        <div class="timeline-content" style={{ height: `${layout.totalHeight}px` }}>
          {buckets &&
            visible.map(({ section, firstRow, lastRow }) => {
              const bucket = buckets[section.index];
              const loaded = assets.get(bucket.timeBucket);
              const tiles = [];
              for (let row = firstRow; row < lastRow; row++) {
                for (let col = 0; col < layout.columns; col++) {
                  const index = row * layout.columns + col;
                  if (index >= bucket.count) break;
                  const asset = loaded?.[index];
                  const style = {
                    transform: `translate(${GAP + col * layout.rowHeight}px, ${section.top + HEADER + row * layout.rowHeight}px)`,
                    width: `${layout.tile}px`,
                    height: `${layout.tile}px`,
                  };
                  tiles.push(
                    asset ? (
                      <a key={asset.id} class="tile timeline-tile" href={`/photos/${asset.id}`} style={style} onClick={openAt}>
                        <img src={thumbnailUrl(asset.id)} alt={asset.originalFileName} loading="lazy" decoding="async" />
                      </a>
                    ) : (
                      <div key={`${bucket.timeBucket}-${index}`} class="tile timeline-tile placeholder" style={style} />
                    ),
                  );
                }
              }
              return [
                <h2
                  key={bucket.timeBucket}
                  class="month"
                  style={{ transform: `translate(${GAP}px, ${section.top}px)`, height: `${HEADER}px` }}
                >
                  {monthTitle(bucket.timeBucket)} <span class="muted">{plural(bucket.count, 'photo')}</span>
                </h2>,
                ...tiles,
              ];
            })}
        </div>
      </div>
    </section>
  );
}
