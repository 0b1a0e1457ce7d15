// SPDX-License-Identifier: AGPL-3.0-or-later
// One photo: the preview with its face boxes, each face's person (reassign, or a new person), the EXIF panel,
// and ←/→ for the previous/next photo of the list it was opened from (Esc goes back).
import { useLocation, useRoute } from 'preact-iso';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, previewUrl } from '../api';
import { Icon } from '../components/icons';
import { Loading, Notice, errorText, useLoad } from '../components/ui';
import { bytes, dateTime } from '../lib/format';
import { neighbours } from '../lib/viewer-context';
import type { Asset, Face, Person } from '../types';

// A face box as percentages of the image the detector saw, so it scales with the displayed preview.
export function boxStyle(face: Face): Record<string, string> {
  const w = face.imageWidth || 1;
  const h = face.imageHeight || 1;
  const pct = (v: number) => `${(100 * v).toFixed(3)}%`;
  return {
    left: pct(face.boundingBoxX1 / w),
    top: pct(face.boundingBoxY1 / h),
    width: pct((face.boundingBoxX2 - face.boundingBoxX1) / w),
    height: pct((face.boundingBoxY2 - face.boundingBoxY1) / h),
  };
}

function ExifPanel({ asset }: { asset: Asset }) {
  const exif = asset.exifInfo;
  const rows: [string, string][] = [
    ['File', asset.originalFileName],
    ['Taken', dateTime(exif?.dateTimeOriginal ?? asset.fileCreatedAt)],
    ['Size', `${asset.width} × ${asset.height}${asset.fileSize ? `, ${bytes(asset.fileSize)}` : ''}`],
    ['Camera', [exif?.make, exif?.model].filter(Boolean).join(' ')],
    ['Lens', exif?.lensModel ?? ''],
    ['Place', exif?.latitude != null && exif?.longitude != null ? `${exif.latitude.toFixed(5)}, ${exif.longitude.toFixed(5)}` : ''],
    ['Description', exif?.description ?? ''],
  ];
  return (
    <dl class="exif" aria-label="Photo details">
      {rows
        .filter(([, value]) => value)
        .map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
    </dl>
  );
}

function FaceRow({ face, index, onChanged }: { face: Face; index: number; onChanged: () => void }) {
  const [choosing, setChoosing] = useState(false);
  const [name, setName] = useState('');
  const [matches, setMatches] = useState<Person[]>([]);
  const [error, setError] = useState<string>();
  useEffect(() => {
    if (!choosing || !name.trim()) {
      setMatches([]);
      return;
    }
    const timer = setTimeout(() => {
      api.searchPeople(name.trim()).then(setMatches, (e) => setError(errorText(e)));
    }, 200);
    return () => clearTimeout(timer);
  }, [name, choosing]);
  const act = async (action: () => Promise<unknown>) => {
    try {
      await action();
      setChoosing(false);
      setError(undefined);
      onChanged();
    } catch (e) {
      setError(errorText(e));
    }
  };
  const label = face.person ? face.person.name || 'Unnamed person' : 'Not assigned';
  return (
    <li class="face-row">
      <span class="face-number" aria-hidden="true">
        {index + 1}
      </span>
      {face.person ? <a href={`/people/${face.person.id}`}>{label}</a> : <span class="muted">{label}</span>}
      <button type="button" class="button small" aria-expanded={choosing} onClick={() => setChoosing(!choosing)}>
        <Icon name="pencil" size={16} /> Change<span class="visually-hidden"> person of face {index + 1}</span>
      </button>
      {choosing && (
        <div class="face-chooser">
          <label>
            Person's name
            <input type="search" value={name} onInput={(e) => setName(e.currentTarget.value)} autoFocus />
          </label>
          <ul class="choices">
            {matches
              .filter((p) => p.id !== face.person?.id)
              .map((p) => (
                <li key={p.id}>
                  <button type="button" class="button small" onClick={() => act(() => api.reassignFace(face.id, p.id))}>
                    {p.name || `Person ${p.id}`}
                  </button>
                </li>
              ))}
          </ul>
          <div class="row wrap">
            <button type="button" class="button small" onClick={() => act(() => api.faceToNewPerson(face.id))}>
              New person
            </button>
            <button type="button" class="button small danger" onClick={() => act(() => api.removeFace(face.id))}>
              Not a face
            </button>
          </div>
        </div>
      )}
      {error && <Notice>{error}</Notice>}
    </li>
  );
}

export function PhotoView() {
  const { params } = useRoute();
  const { route } = useLocation();
  const id = Number(params.id);
  const asset = useLoad(() => api.asset(id), [id]);
  const faces = useLoad(() => api.faces(id), [id]);
  const { previous, next } = neighbours(id);

  // One listener for the page's life, reading the neighbours of the photo shown now (a listener re-added per
  // photo would miss a key pressed between the render and the effect).
  const neighboursNow = useRef({ previous, next });
  neighboursNow.current = { previous, next };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      if (target && ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName)) return;
      const { previous: before, next: after } = neighboursNow.current;
      if (e.key === 'ArrowLeft' && before) route(`/photos/${before}`);
      else if (e.key === 'ArrowRight' && after) route(`/photos/${after}`);
      else if (e.key === 'Escape') history.back();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  if (asset.error) return <Notice>{asset.error}</Notice>;
  if (!asset.data) return <Loading what="the photo" />;
  const list = faces.data ?? [];
  return (
    <section class="page viewer" aria-labelledby="viewer-title">
      <h1 id="viewer-title" class="visually-hidden">
        {asset.data.originalFileName}
      </h1>
      <div class="viewer-stage">
        <a class={`nav-arrow${previous ? '' : ' hidden'}`} href={previous ? `/photos/${previous}` : undefined} aria-label="Previous photo">
          <Icon name="left" size={28} />
        </a>
        <figure class="preview">
          <div class="preview-frame">
            <img src={previewUrl(id)} alt={asset.data.originalFileName} />
            {list.map((face, index) => (
              <div key={face.id} class="face-box" style={boxStyle(face)} data-testid="face-box">
                <span class="face-tag">
                  {index + 1}
                  {face.person?.name ? ` ${face.person.name}` : ''}
                </span>
              </div>
            ))}
          </div>
        </figure>
        <a class={`nav-arrow${next ? '' : ' hidden'}`} href={next ? `/photos/${next}` : undefined} aria-label="Next photo">
          <Icon name="right" size={28} />
        </a>
      </div>
      <aside class="viewer-panel">
        <h2>Details</h2>
        <ExifPanel asset={asset.data} />
        <h2>People in this photo</h2>
        {faces.error && <Notice>{faces.error}</Notice>}
        {faces.data && list.length === 0 && <p class="muted">No faces found (yet).</p>}
        <ol class="faces">
          {list.map((face, index) => (
            <FaceRow key={face.id} face={face} index={index} onChanged={() => void faces.reload()} />
          ))}
        </ol>
      </aside>
    </section>
  );
}
