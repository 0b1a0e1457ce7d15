// SPDX-License-Identifier: AGPL-3.0-or-later
// A plain grid of thumbnails for bounded lists (search results, a person's photos); the timeline has its own
// virtualised grid. Opening a photo hands the list to the viewer for next/previous.
import { thumbnailUrl } from '../api';
import { setViewerContext } from '../lib/viewer-context';

export interface GridAsset {
  id: number;
  originalFileName: string;
}

export function AssetGrid({
  assets,
  label,
  onPick,
}: {
  assets: GridAsset[];
  label: string;
  onPick?: (id: number) => void; // instead of opening the viewer (e.g. choosing a feature photo)
}) {
  const ids = assets.map((a) => a.id);
  return (
    <ul class="grid" aria-label={label}>
      {assets.map((asset) => (
        <li key={asset.id}>
          {onPick ? (
            <button type="button" class="tile" onClick={() => onPick(asset.id)} aria-label={`Choose ${asset.originalFileName}`}>
              <img src={thumbnailUrl(asset.id)} alt="" loading="lazy" decoding="async" />
            </button>
          ) : (
            <a class="tile" href={`/photos/${asset.id}`} onClick={() => setViewerContext(ids)}>
              <img src={thumbnailUrl(asset.id)} alt={asset.originalFileName} loading="lazy" decoding="async" />
            </a>
          )}
        </li>
      ))}
    </ul>
  );
}
