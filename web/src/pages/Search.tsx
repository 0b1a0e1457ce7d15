// SPDX-License-Identifier: AGPL-3.0-or-later
// Search: one box. Smart (CLIP) when Smart Search is on, keyword otherwise, text-in-photo (OCR) on request;
// the mode in use is always shown. Filters: date range, camera, people. The query lives in the URL.
import { useLocation } from 'preact-iso';
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { useFeatures } from '../features';
import { AssetGrid } from '../components/AssetGrid';
import { Loading, Notice, useLoad } from '../components/ui';
import { plural } from '../lib/format';
import type { Features, Person, SearchRequest } from '../types';

export type SearchMode = 'smart' | 'keyword' | 'ocr';

// The mode a search runs in: what was asked for when the server can do it, else the best available.
export function effectiveMode(requested: string | undefined, features: Features | undefined): SearchMode {
  const smart = features?.smartSearch === true;
  const ocr = features?.ocr === true;
  if (requested === 'ocr' && ocr) return 'ocr';
  if (requested === 'keyword') return 'keyword';
  return smart ? 'smart' : 'keyword';
}

const MODE_TEXT: Record<SearchMode, string> = {
  smart: 'Smart search: matches what the photo shows (CLIP)',
  keyword: 'Keyword search: file names, descriptions, camera, places and dates',
  ocr: 'Text in photos: words read in the photo (OCR)',
};

export function Search() {
  const features = useFeatures();
  const { query, route, path } = useLocation();
  const q = query.q ?? '';
  const mode = effectiveMode(query.mode, features);
  const [draft, setDraft] = useState(q);
  useEffect(() => setDraft(q), [q]);

  const filters: SearchRequest = {
    takenAfter: query.after ? `${query.after}T00:00:00.000Z` : undefined,
    takenBefore: query.before ? `${query.before}T23:59:59.999Z` : undefined,
    make: query.make || undefined,
    personIds: query.person ? [Number(query.person)] : undefined,
  };
  const hasFilter = Object.values(filters).some((v) => v !== undefined);
  const results = useLoad(async () => {
    if (!q.trim() && !hasFilter) return null;
    const base = { ...filters, size: 250 };
    if (mode === 'smart' && q.trim()) return api.smartSearch({ ...base, query: q });
    if (mode === 'ocr') return api.metadataSearch({ ...base, ocr: q });
    return api.metadataSearch({ ...base, query: q });
  }, [q, mode, query.after, query.before, query.make, query.person]);

  const cameras = useLoad(() => api.suggestions('camera-make'), []);
  const people = useLoad(() => api.people(false), []);

  const update = (changes: Record<string, string>) => {
    const next = new URLSearchParams({ ...query, ...changes });
    for (const [key, value] of [...next.entries()]) if (!value) next.delete(key);
    route(`${path}?${next.toString()}`);
  };

  const items = results.data?.assets.items ?? [];
  const namedPeople: Person[] = (people.data?.people ?? []).filter((p) => p.name);
  return (
    <section class="page" aria-labelledby="search-title">
      <h1 id="search-title">Search</h1>
      <form
        class="search-form"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          update({ q: draft });
        }}
      >
        <label class="visually-hidden" for="search-page-input">
          Search photos
        </label>
        <input
          id="search-page-input"
          type="search"
          value={draft}
          placeholder={mode === 'smart' ? 'dog on a beach' : 'file name, camera, place…'}
          onInput={(e) => setDraft(e.currentTarget.value)}
        />
        <button class="button primary" type="submit">
          Search
        </button>
      </form>
      <fieldset class="modes">
        <legend>Search mode</legend>
        {(['smart', 'keyword', 'ocr'] as const).map((m) => {
          const disabled = (m === 'smart' && !features?.smartSearch) || (m === 'ocr' && !features?.ocr);
          return (
            <label key={m} class={disabled ? 'disabled' : ''}>
              <input
                type="radio"
                name="mode"
                value={m}
                checked={mode === m}
                disabled={disabled}
                onChange={() => update({ mode: m })}
              />
              {m === 'smart' ? 'Smart' : m === 'keyword' ? 'Keyword' : 'Text in photo'}
            </label>
          );
        })}
      </fieldset>
      <p class="mode-indicator" data-testid="search-mode" data-mode={mode}>
        {MODE_TEXT[mode]}
        {mode === 'keyword' && !features?.smartSearch && ' (Smart Search is off)'}
      </p>
      <details class="filters" open={hasFilter}>
        <summary>Filters</summary>
        <div class="filter-row">
          <label>
            Taken after
            <input type="date" value={query.after ?? ''} onChange={(e) => update({ after: e.currentTarget.value })} />
          </label>
          <label>
            Taken before
            <input type="date" value={query.before ?? ''} onChange={(e) => update({ before: e.currentTarget.value })} />
          </label>
          <label>
            Camera
            <select value={query.make ?? ''} onChange={(e) => update({ make: e.currentTarget.value })}>
              <option value="">Any camera</option>
              {(cameras.data ?? []).map((make) => (
                <option key={make} value={make}>
                  {make}
                </option>
              ))}
            </select>
          </label>
          <label>
            Person
            <select value={query.person ?? ''} onChange={(e) => update({ person: e.currentTarget.value })}>
              <option value="">Anyone</option>
              {namedPeople.map((p) => (
                <option key={p.id} value={String(p.id)}>
                  {p.name}
                </option>
              ))}
            </select>
          </label>
        </div>
      </details>
      {results.error && <Notice>{results.error}</Notice>}
      {results.loading && <Loading what="results" />}
      {!results.loading && results.data && (
        <>
          <p class="muted" role="status">
            {plural(items.length, 'result')}
          </p>
          <AssetGrid assets={items} label="Search results" />
        </>
      )}
    </section>
  );
}
