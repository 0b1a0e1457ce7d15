// SPDX-License-Identifier: AGPL-3.0-or-later
// Duplicates: each group side by side with size, resolution and date; choose keep or trash per photo (the
// server's suggestion preselected), then resolve, or dismiss the group as not duplicates.
import { useEffect, useState } from 'preact/hooks';
import { api, thumbnailUrl } from '../api';
import { Loading, Notice, errorText, useLoad } from '../components/ui';
import { bytes, dateTime, plural } from '../lib/format';
import type { Asset, DuplicateGroup } from '../types';

function Group({ group, onDone }: { group: DuplicateGroup; onDone: () => void }) {
  const assets = useLoad(() => Promise.all(group.assetIds.map((id) => api.asset(id))), [group.duplicateId]);
  const [keep, setKeep] = useState<Set<number>>(new Set());
  const [error, setError] = useState<string>();
  useEffect(() => {
    const suggested = group.suggestedKeepAssetIds.length > 0 ? group.suggestedKeepAssetIds : group.assetIds.slice(0, 1);
    setKeep(new Set(suggested));
  }, [group.duplicateId]);
  const act = async (action: () => Promise<unknown>) => {
    try {
      await action();
      onDone();
    } catch (e) {
      setError(errorText(e));
    }
  };
  const resolve = () =>
    act(async () => {
      const kept = group.assetIds.filter((id) => keep.has(id));
      const trashed = group.assetIds.filter((id) => !keep.has(id));
      const [result] = await api.resolveDuplicate(group.duplicateId, kept, trashed);
      if (result && result.status !== 'success') throw new Error(result.message ?? `Could not resolve (${result.status})`);
    });
  const headingId = `duplicate-${group.duplicateId}`;
  return (
    <article class="card duplicate-group" aria-labelledby={headingId} data-testid="duplicate-group">
      <h2 id={headingId}>{plural(group.assetIds.length, 'photo')} that look the same</h2>
      {assets.error && <Notice>{assets.error}</Notice>}
      {!assets.data && !assets.error && <Loading what="the photos" />}
      <ul class="duplicate-assets">
        {(assets.data ?? []).map((asset: Asset) => {
          const kept = keep.has(asset.id);
          return (
            <li key={asset.id} class={kept ? 'keep' : 'trash'}>
              <img src={thumbnailUrl(asset.id)} alt={asset.originalFileName} loading="lazy" />
              <dl class="small">
                <dt>File</dt>
                <dd>{asset.originalFileName}</dd>
                <dt>Size</dt>
                <dd>{bytes(asset.exifInfo?.fileSizeInByte ?? asset.fileSize)}</dd>
                <dt>Resolution</dt>
                <dd>
                  {asset.width} × {asset.height}
                </dd>
                <dt>Date</dt>
                <dd>{dateTime(asset.exifInfo?.dateTimeOriginal ?? asset.fileCreatedAt)}</dd>
              </dl>
              <fieldset class="keep-choice">
                <legend class="visually-hidden">{asset.originalFileName}</legend>
                <label>
                  <input
                    type="radio"
                    name={`keep-${group.duplicateId}-${asset.id}`}
                    checked={kept}
                    onChange={() => setKeep(new Set(keep).add(asset.id))}
                  />
                  Keep
                </label>
                <label>
                  <input
                    type="radio"
                    name={`keep-${group.duplicateId}-${asset.id}`}
                    checked={!kept}
                    onChange={() => {
                      const next = new Set(keep);
                      next.delete(asset.id);
                      setKeep(next);
                    }}
                  />
                  Trash
                </label>
              </fieldset>
            </li>
          );
        })}
      </ul>
      {error && <Notice>{error}</Notice>}
      <div class="row">
        <button type="button" class="button primary" disabled={keep.size === 0} onClick={resolve}>
          Resolve: keep {keep.size}, trash {group.assetIds.length - keep.size}
        </button>
        <button type="button" class="button" onClick={() => act(() => api.dismissDuplicate(group.duplicateId))}>
          Not duplicates
        </button>
      </div>
    </article>
  );
}

export function Duplicates() {
  const groups = useLoad(() => api.duplicates(), []);
  return (
    <section class="page" aria-labelledby="duplicates-title">
      <div class="page-head">
        <h1 id="duplicates-title">Duplicates</h1>
        {groups.data && <span class="muted">{plural(groups.data.length, 'group')}</span>}
      </div>
      {groups.error && <Notice>{groups.error}</Notice>}
      {groups.loading && !groups.data && <Loading what="duplicates" />}
      {groups.data && groups.data.length === 0 && (
        <Notice kind="info">No duplicates found. Duplicate detection runs after Smart Search has indexed photos.</Notice>
      )}
      {(groups.data ?? []).map((group) => (
        <Group key={group.duplicateId} group={group} onDone={() => void groups.reload()} />
      ))}
    </section>
  );
}
