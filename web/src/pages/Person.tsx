// SPDX-License-Identifier: AGPL-3.0-or-later
// A person: inline rename, birth date, hide, merge another person into this one (search by name, confirm),
// choose the feature photo, and the person's photos.
import { useLocation, useRoute } from 'preact-iso';
import { useEffect, useState } from 'preact/hooks';
import { api, personThumbnailUrl } from '../api';
import { AssetGrid } from '../components/AssetGrid';
import { Icon } from '../components/icons';
import { Loading, Notice, errorText, useConfirm, useLoad } from '../components/ui';
import { plural } from '../lib/format';
import type { Person as PersonT } from '../types';

function MergeBox({ person, onMerged }: { person: PersonT; onMerged: () => void }) {
  const [name, setName] = useState('');
  const [matches, setMatches] = useState<PersonT[]>([]);
  const [error, setError] = useState<string>();
  const [ask, dialog] = useConfirm();
  useEffect(() => {
    if (!name.trim()) {
      setMatches([]);
      return;
    }
    const timer = setTimeout(() => {
      api.searchPeople(name.trim()).then(
        (found) => setMatches(found.filter((p) => p.id !== person.id)),
        (e) => setError(errorText(e)),
      );
    }, 200);
    return () => clearTimeout(timer);
  }, [name, person.id]);
  const merge = async (other: PersonT) => {
    const otherName = other.name || `person ${other.id}`;
    const ok = await ask(
      `Merge ${otherName} (${plural(other.faceCount, 'face')}) into ${person.name || 'this person'}? ${otherName} will be removed; this cannot be undone.`,
      'Merge',
    );
    if (!ok) return;
    try {
      const results = await api.mergePeople(person.id, [other.id]);
      const failed = results.find((r) => !r.success);
      if (failed) throw new Error(`Could not merge ${otherName}`);
      setName('');
      onMerged();
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <div class="merge">
      <h2>Merge with another person</h2>
      <label>
        Find a person by name
        <input type="search" value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <ul class="choices" aria-label="Matching people">
        {matches.map((p) => (
          <li key={p.id}>
            <button type="button" class="button small" onClick={() => merge(p)}>
              Merge {p.name || `person ${p.id}`} ({plural(p.faceCount, 'face')})
            </button>
          </li>
        ))}
      </ul>
      {error && <Notice>{error}</Notice>}
      {dialog}
    </div>
  );
}

export function Person() {
  const { params } = useRoute();
  const { route } = useLocation();
  const id = Number(params.id);
  const person = useLoad(() => api.person(id), [id]);
  const photos = useLoad(() => api.metadataSearch({ personIds: [id], size: 500 }), [id]);
  const [name, setName] = useState('');
  const [editing, setEditing] = useState(false);
  const [choosingFeature, setChoosingFeature] = useState(false);
  const [error, setError] = useState<string>();
  const [thumbVersion, setThumbVersion] = useState(0);
  useEffect(() => setName(person.data?.name ?? ''), [person.data?.name]);

  const save = async (fields: Parameters<typeof api.updatePerson>[1]) => {
    try {
      await api.updatePerson(id, fields);
      setError(undefined);
      await person.reload();
    } catch (e) {
      setError(errorText(e));
    }
  };

  if (person.error) return <Notice>{person.error}</Notice>;
  if (!person.data) return <Loading what="the person" />;
  const p = person.data;
  const items = photos.data?.assets.items ?? [];
  return (
    <section class="page" aria-labelledby="person-title">
      <div class="person-head">
        {p.thumbnailPath && (
          <img class="person-avatar" src={`${personThumbnailUrl(id)}?v=${thumbVersion}`} alt="" width={96} height={96} />
        )}
        <div>
          {editing ? (
            <form
              class="row"
              onSubmit={async (e) => {
                e.preventDefault();
                await save({ name: name.trim() });
                setEditing(false);
              }}
            >
              <label class="visually-hidden" for="person-name">
                Name
              </label>
              <input id="person-name" value={name} onInput={(e) => setName(e.currentTarget.value)} autoFocus />
              <button class="button primary" type="submit">
                Save
              </button>
              <button class="button" type="button" onClick={() => setEditing(false)}>
                Cancel
              </button>
            </form>
          ) : (
            <h1 id="person-title" class="row">
              {p.name || 'Unnamed person'}
              <button type="button" class="button icon-only" onClick={() => setEditing(true)} aria-label="Rename">
                <Icon name="pencil" />
              </button>
            </h1>
          )}
          <p class="muted">
            {plural(p.faceCount, 'face')}
            {p.isHidden && ' · hidden'}
          </p>
        </div>
      </div>
      {error && <Notice>{error}</Notice>}
      <div class="person-settings">
        <label>
          Birth date
          <input
            type="date"
            value={p.birthDate ?? ''}
            onChange={(e) => save({ birthDate: e.currentTarget.value || null })}
          />
        </label>
        <label class="toggle">
          <input type="checkbox" checked={p.isHidden} onChange={(e) => save({ isHidden: e.currentTarget.checked })} />
          Hidden
        </label>
        <button type="button" class="button" aria-pressed={choosingFeature} onClick={() => setChoosingFeature(!choosingFeature)}>
          {choosingFeature ? 'Cancel choosing' : 'Choose feature photo'}
        </button>
      </div>
      <MergeBox person={p} onMerged={() => {
        void person.reload();
        void photos.reload();
      }} />
      <h2>Photos</h2>
      {choosingFeature && <Notice kind="info">Pick the photo whose face shows this person best.</Notice>}
      {photos.error && <Notice>{photos.error}</Notice>}
      {photos.loading && !photos.data && <Loading what="photos" />}
      <AssetGrid
        assets={items}
        label={`Photos of ${p.name || 'this person'}`}
        onPick={
          choosingFeature
            ? async (assetId) => {
                await save({ featureFaceAssetId: assetId });
                setChoosingFeature(false);
                setThumbVersion((v) => v + 1);
              }
            : undefined
        }
      />
      {!photos.loading && items.length === 0 && (
        <p class="muted">
          No photos. <a href="/people" onClick={() => route('/people')}>Back to people</a>
        </p>
      )}
    </section>
  );
}
