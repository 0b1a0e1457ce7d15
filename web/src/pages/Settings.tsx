// SPDX-License-Identifier: AGPL-3.0-or-later
// Machine Learning Settings: ML on/off per feature, the CLIP and face models (with the re-run warning),
// thresholds, and the ML URL list (add / remove / reorder, how requests are spread) with each URL's live
// health and request counters.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { Icon } from '../components/icons';
import { Loading, Notice, errorText } from '../components/ui';
import { getPath, setPath } from '../lib/config-path';
import { plural } from '../lib/format';
import type { MlHealth, SystemConfig } from '../types';

const CLIP_MODELS = [
  'ViT-B-32__openai',
  'ViT-B-16__openai',
  'ViT-L-14__openai',
  'ViT-B-16-SigLIP2__webli',
  'ViT-B-32__laion2b-s34b-b79k',
  'XLM-Roberta-Large-Vit-B-16Plus',
  'nllb-clip-base-siglip__v1',
];
const FACE_MODELS = ['buffalo_l', 'buffalo_m', 'buffalo_s', 'antelopev2'];
const HEALTH_POLL_MS = 10000;

interface NumberField {
  path: string;
  label: string;
  min: number;
  max: number;
  step: number;
  help: string;
}

const THRESHOLDS: NumberField[] = [
  { path: 'machineLearning.facialRecognition.minScore', label: 'Face detection: minimum score', min: 0.1, max: 1, step: 0.01, help: 'Faces detected with less confidence are ignored (default 0.7).' },
  { path: 'machineLearning.facialRecognition.maxDistance', label: 'Face recognition: maximum distance', min: 0.1, max: 2, step: 0.01, help: 'Two faces closer than this are the same person (default 0.5).' },
  { path: 'machineLearning.facialRecognition.minFaces', label: 'Face recognition: minimum faces', min: 1, max: 100, step: 1, help: 'Faces needed before a person is created (default 3).' },
  { path: 'machineLearning.duplicateDetection.maxDistance', label: 'Duplicates: maximum distance', min: 0.001, max: 0.1, step: 0.001, help: 'CLIP distance under which two photos are duplicates (default 0.01).' },
];

const TOGGLES: { path: string; label: string }[] = [
  { path: 'machineLearning.enabled', label: 'Machine learning' },
  { path: 'machineLearning.clip.enabled', label: 'Smart Search' },
  { path: 'machineLearning.facialRecognition.enabled', label: 'Facial recognition' },
  { path: 'machineLearning.duplicateDetection.enabled', label: 'Duplicate detection' },
  { path: 'machineLearning.ocr.enabled', label: 'Text in photos (OCR)' },
];

// The URL list after moving entry `index` by `delta` (-1 up, +1 down); unchanged at the ends.
export function moveUrl(urls: readonly string[], index: number, delta: number): string[] {
  const target = index + delta;
  if (target < 0 || target >= urls.length) return [...urls];
  const out = [...urls];
  [out[index], out[target]] = [out[target], out[index]];
  return out;
}

export function Settings() {
  const [saved, setSaved] = useState<SystemConfig>();
  const [draft, setDraft] = useState<SystemConfig>();
  const [health, setHealth] = useState<MlHealth>();
  const [error, setError] = useState<string>();
  const [message, setMessage] = useState<string>();
  const [newUrl, setNewUrl] = useState('');

  const loadHealth = (refresh: boolean) =>
    api.mlHealth(refresh).then(setHealth, (e) => setError(errorText(e)));
  useEffect(() => {
    api.systemConfig().then(
      (config) => {
        setSaved(config);
        setDraft(config);
      },
      (e) => setError(errorText(e)),
    );
    void loadHealth(true);
    const timer = setInterval(() => void loadHealth(false), HEALTH_POLL_MS);
    return () => clearInterval(timer);
  }, []);

  if (!draft || !saved) return error ? <Notice>{error}</Notice> : <Loading what="settings" />;
  const value = (path: string) => getPath(draft, path);
  const set = (path: string, v: unknown) => {
    setDraft(setPath(draft, path, v));
    setMessage(undefined);
  };
  const urls = (value('machineLearning.urls') as string[] | undefined) ?? [];
  const changed = (path: string) => getPath(saved, path) !== value(path);
  const dirty = JSON.stringify(saved) !== JSON.stringify(draft);
  const healthOf = (url: string) => health?.urls.find((h) => h.url === url);

  const save = async () => {
    try {
      const next = await api.saveSystemConfig(draft);
      setSaved(next);
      setDraft(next);
      setError(undefined);
      setMessage('Settings saved.');
      await loadHealth(true);
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <section class="page settings" aria-labelledby="settings-title">
      <h1 id="settings-title">Machine Learning Settings</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <fieldset>
          <legend>Features</legend>
          {TOGGLES.map((toggle) => (
            <label key={toggle.path} class="toggle">
              <input
                type="checkbox"
                checked={value(toggle.path) === true}
                onChange={(e) => set(toggle.path, e.currentTarget.checked)}
              />
              {toggle.label}
            </label>
          ))}
        </fieldset>

        <fieldset>
          <legend>Models</legend>
          <label>
            CLIP model (Smart Search)
            <input
              list="clip-models"
              value={String(value('machineLearning.clip.modelName') ?? '')}
              onInput={(e) => set('machineLearning.clip.modelName', e.currentTarget.value)}
            />
          </label>
          <datalist id="clip-models">
            {CLIP_MODELS.map((m) => (
              <option key={m} value={m} />
            ))}
          </datalist>
          {changed('machineLearning.clip.modelName') && (
            <Notice kind="warning">
              A new CLIP model needs a re-run: run Smart Search "All" on the Jobs page after saving; search is
              empty until it has indexed the library again.
            </Notice>
          )}
          <label>
            Face model
            <select
              value={String(value('machineLearning.facialRecognition.modelName') ?? '')}
              onChange={(e) => set('machineLearning.facialRecognition.modelName', e.currentTarget.value)}
            >
              {[...new Set([String(value('machineLearning.facialRecognition.modelName') ?? ''), ...FACE_MODELS])]
                .filter(Boolean)
                .map((m) => (
                  <option key={m} value={m}>
                    {m}
                    {m === 'buffalo_s' ? ' (smallest, for weak machines)' : m === 'buffalo_l' ? ' (default, most accurate)' : ''}
                  </option>
                ))}
            </select>
          </label>
          {changed('machineLearning.facialRecognition.modelName') && (
            <Notice kind="warning">
              Faces from another model cannot be compared: re-run required. After saving, run Face detection
              "Reset" on the Jobs page (this clears people, named ones included).
            </Notice>
          )}
        </fieldset>

        <fieldset>
          <legend>Thresholds</legend>
          {THRESHOLDS.map((field) => (
            <label key={field.path}>
              {field.label}
              <input
                type="number"
                min={field.min}
                max={field.max}
                step={field.step}
                value={String(value(field.path) ?? '')}
                aria-describedby={`${field.path}-help`}
                onInput={(e) => set(field.path, Number(e.currentTarget.value))}
              />
              <span id={`${field.path}-help`} class="muted small">
                {field.help}
              </span>
            </label>
          ))}
        </fieldset>

        <fieldset>
          <legend>Machine-learning URLs</legend>
          <label>
            Spread requests
            <select
              value={String(value('machineLearning.balance') ?? 'fallback')}
              onChange={(e) => set('machineLearning.balance', e.currentTarget.value)}
            >
              <option value="fallback">In order (Immich)</option>
              <option value="least-outstanding">Least busy first</option>
            </select>
          </label>
          <p class="muted small">
            {value('machineLearning.balance') === 'least-outstanding'
              ? 'Every healthy URL takes requests: the one with the fewest in flight, weighted by how fast it answers. Unreachable URLs are skipped until a health check sees them again.'
              : 'Tried in this order: the first healthy URL takes the request, the next ones are fallbacks.'}
          </p>
          <ol class="url-list" aria-label="Machine-learning URLs">
            {urls.map((url, index) => {
              const h = healthOf(url);
              const status = h === undefined ? 'unknown' : h.healthy ? 'healthy' : 'unhealthy';
              return (
                <li key={url} data-testid="ml-url" data-health={status}>
                  <code>{url}</code>
                  <span class={`health health-${status}`}>
                    {status === 'unknown' ? 'Not checked (save first)' : status === 'healthy' ? 'Healthy' : 'Unreachable'}
                  </span>
                  {h?.requests !== undefined && h.requests > 0 && (
                    <span class="muted small url-counters" data-testid="ml-url-counters">
                      {plural(h.requests, 'request')}, {(h.failures ?? 0).toLocaleString()} failed,{' '}
                      {(h.outstanding ?? 0).toLocaleString()} in flight
                    </span>
                  )}
                  <button type="button" class="button icon-only" aria-label={`Move ${url} up`} disabled={index === 0} onClick={() => set('machineLearning.urls', moveUrl(urls, index, -1))}>
                    <Icon name="up" />
                  </button>
                  <button type="button" class="button icon-only" aria-label={`Move ${url} down`} disabled={index === urls.length - 1} onClick={() => set('machineLearning.urls', moveUrl(urls, index, 1))}>
                    <Icon name="down" />
                  </button>
                  <button type="button" class="button icon-only" aria-label={`Remove ${url}`} disabled={urls.length === 1} onClick={() => set('machineLearning.urls', urls.filter((_, i) => i !== index))}>
                    <Icon name="trash" />
                  </button>
                </li>
              );
            })}
          </ol>
          <div class="row">
            <label class="grow">
              Add a URL
              <input type="url" placeholder="http://gpu-box:3003" value={newUrl} onInput={(e) => setNewUrl(e.currentTarget.value)} />
            </label>
            <button
              type="button"
              class="button"
              disabled={!/^https?:\/\/\S+$/.test(newUrl.trim()) || urls.includes(newUrl.trim())}
              onClick={() => {
                set('machineLearning.urls', [...urls, newUrl.trim()]);
                setNewUrl('');
              }}
            >
              Add URL
            </button>
          </div>
        </fieldset>

        {error && <Notice>{error}</Notice>}
        {message && <Notice kind="info">{message}</Notice>}
        <div class="row sticky-actions">
          <button type="submit" class="button primary" disabled={!dirty}>
            Save
          </button>
          <button type="button" class="button" disabled={!dirty} onClick={() => setDraft(saved)}>
            Discard changes
          </button>
        </div>
      </form>
    </section>
  );
}
