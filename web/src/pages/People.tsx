// SPDX-License-Identifier: AGPL-3.0-or-later
// Explore > People: named people first (the server's order), with face counts; hide/unhide; show hidden.
import { useState } from 'preact/hooks';
import { api, personThumbnailUrl } from '../api';
import { Loading, Notice, errorText, useLoad } from '../components/ui';
import { plural } from '../lib/format';
import type { Person } from '../types';

function PersonCard({ person, onChanged }: { person: Person; onChanged: () => void }) {
  const [error, setError] = useState<string>();
  const toggleHidden = async () => {
    try {
      await api.updatePerson(person.id, { isHidden: !person.isHidden });
      onChanged();
    } catch (e) {
      setError(errorText(e));
    }
  };
  const name = person.name || 'Add a name';
  return (
    <li class={`person-card${person.isHidden ? ' is-hidden' : ''}`} data-testid="person-card">
      <a href={`/people/${person.id}`} class="person-link">
        {person.thumbnailPath ? (
          <img src={personThumbnailUrl(person.id)} alt="" loading="lazy" width={140} height={140} />
        ) : (
          <span class="person-placeholder" aria-hidden="true" />
        )}
        <span class={person.name ? 'person-name' : 'person-name muted'}>{name}</span>
      </a>
      <span class="muted small">{plural(person.faceCount, 'face')}</span>
      <button type="button" class="button small" onClick={toggleHidden}>
        {person.isHidden ? 'Unhide' : 'Hide'}
        <span class="visually-hidden"> {person.name || `person ${person.id}`}</span>
      </button>
      {error && <Notice>{error}</Notice>}
    </li>
  );
}

export function People() {
  const [showHidden, setShowHidden] = useState(false);
  const people = useLoad(() => api.people(showHidden), [showHidden]);
  const list = people.data?.people ?? [];
  return (
    <section class="page" aria-labelledby="people-title">
      <div class="page-head">
        <h1 id="people-title">People</h1>
        {people.data && (
          <span class="muted">
            {plural(people.data.total, 'person', 'people')}
            {people.data.hidden > 0 && `, ${people.data.hidden} hidden`}
          </span>
        )}
        <label class="toggle">
          <input type="checkbox" checked={showHidden} onChange={(e) => setShowHidden(e.currentTarget.checked)} />
          Show hidden people
        </label>
      </div>
      {people.error && <Notice>{people.error}</Notice>}
      {people.loading && !people.data && <Loading what="people" />}
      {people.data && list.length === 0 && (
        <Notice kind="info">No people yet: run Face detection and Facial recognition on the Jobs page.</Notice>
      )}
      <ul class="people-grid" aria-label="People">
        {list.map((person) => (
          <PersonCard key={person.id} person={person} onChanged={() => void people.reload()} />
        ))}
      </ul>
    </section>
  );
}
