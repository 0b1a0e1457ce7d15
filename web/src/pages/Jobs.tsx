// SPDX-License-Identifier: AGPL-3.0-or-later
// Administration > Jobs: one card per queue with live counts (polled every 2 s), a progress bar for the run in
// progress, All / Missing / Reset (asking first where results are deleted), pause / resume / clear, and the
// queue's concurrency where it is configurable.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import { useFeatures } from '../features';
import { Loading, Notice, errorText, useConfirm } from '../components/ui';
import { getPath, setPath } from '../lib/config-path';
import { isIdle, progress, queueInfo, queueOrder, waitingCount } from '../lib/jobs';
import type { Features, Queue, SystemConfig } from '../types';

const POLL_MS = 2000;

function sortQueues(queues: Queue[]): Queue[] {
  const rank = (name: string) => {
    const i = queueOrder.indexOf(name);
    return i < 0 ? queueOrder.length : i;
  };
  return [...queues].sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
}

function QueueCard({
  queue,
  largest,
  features,
  config,
  onCommand,
  onConcurrency,
}: {
  queue: Queue;
  largest: number;
  features: Features | undefined;
  config: SystemConfig | undefined;
  onCommand: (command: () => Promise<unknown>, confirm?: string) => void;
  onConcurrency: (key: string, value: number) => void;
}) {
  const info = queueInfo(queue.name);
  const s = queue.statistics;
  const waiting = waitingCount(queue);
  const remaining = s.active + waiting;
  const idle = isIdle(queue);
  const disabled = info.feature !== undefined && features !== undefined && features[info.feature] === false;
  const share = progress(remaining, largest);
  const concurrency = info.concurrencyKey ? Number(getPath(config, info.concurrencyKey) ?? queue.concurrency) : undefined;
  const headingId = `queue-${queue.name}`;
  return (
    <article class="card queue" aria-labelledby={headingId} data-testid={`queue-${queue.name}`}>
      <header>
        <h2 id={headingId}>{info.title}</h2>
        {queue.isPaused && <span class="badge">Paused</span>}
        {disabled && <span class="badge">Feature off</span>}
      </header>
      {info.description && <p class="muted small">{info.description}</p>}
      <dl class="counts">
        <div>
          <dt>Active</dt>
          <dd data-testid="active">{s.active}</dd>
        </div>
        <div>
          <dt>Waiting</dt>
          <dd data-testid="waiting">{waiting}</dd>
        </div>
        <div>
          <dt>Done</dt>
          <dd data-testid="completed">{s.completed}</dd>
        </div>
        <div>
          <dt>Failed</dt>
          <dd class={s.failed > 0 ? 'danger-text' : ''}>{s.failed}</dd>
        </div>
      </dl>
      <progress max={100} value={Math.round(share * 100)} aria-label={`${info.title} progress`} />
      <div class="row wrap">
        {idle &&
          info.buttons.map((button) => (
            <button
              key={button.label}
              type="button"
              class={`button small${button.confirm ? ' danger' : ''}`}
              disabled={disabled}
              onClick={() => onCommand(() => api.startJob(queue.name, button.force), button.confirm)}
            >
              {button.label}
              <span class="visually-hidden"> ({info.title})</span>
            </button>
          ))}
        {!idle && (
          <>
            <button
              type="button"
              class="button small"
              onClick={() => onCommand(() => api.jobCommand(queue.name, queue.isPaused ? 'resume' : 'pause'))}
            >
              {queue.isPaused ? 'Resume' : 'Pause'}
              <span class="visually-hidden"> ({info.title})</span>
            </button>
            <button type="button" class="button small" onClick={() => onCommand(() => api.jobCommand(queue.name, 'empty'))}>
              Clear waiting<span class="visually-hidden"> ({info.title})</span>
            </button>
          </>
        )}
        {s.failed > 0 && (
          <button type="button" class="button small" onClick={() => onCommand(() => api.jobCommand(queue.name, 'clear-failed'))}>
            Clear failed<span class="visually-hidden"> ({info.title})</span>
          </button>
        )}
      </div>
      {info.concurrencyKey && concurrency !== undefined && (
        <label class="concurrency">
          Concurrency
          <input
            type="number"
            min={1}
            max={64}
            value={concurrency}
            onChange={(e) => {
              const value = Number(e.currentTarget.value);
              if (Number.isInteger(value) && value >= 1) onConcurrency(info.concurrencyKey as string, value);
            }}
          />
        </label>
      )}
    </article>
  );
}

export function Jobs() {
  const features = useFeatures();
  const [queues, setQueues] = useState<Queue[] | null>(null);
  const [config, setConfig] = useState<SystemConfig>();
  const [error, setError] = useState<string>();
  const [ask, dialog] = useConfirm();
  const largest = useRef(new Map<string, number>());

  const refresh = async () => {
    try {
      const list = sortQueues(await api.queues());
      for (const q of list) {
        const remaining = q.statistics.active + waitingCount(q);
        // A new run starts when the queue was idle: forget the previous run's backlog.
        const seen = remaining === 0 ? 0 : Math.max(largest.current.get(q.name) ?? 0, remaining);
        largest.current.set(q.name, seen);
      }
      setQueues(list);
      setError(undefined);
    } catch (e) {
      setError(errorText(e));
    }
  };
  useEffect(() => {
    void refresh();
    void api.systemConfig().then(setConfig, (e) => setError(errorText(e)));
    const timer = setInterval(() => void refresh(), POLL_MS);
    return () => clearInterval(timer);
  }, []);

  const run = async (command: () => Promise<unknown>, confirm?: string) => {
    if (confirm && !(await ask(confirm, 'Yes, reprocess'))) return;
    try {
      await command();
      await refresh();
    } catch (e) {
      setError(errorText(e));
    }
  };
  const setConcurrency = async (key: string, value: number) => {
    if (!config) return;
    try {
      setConfig(await api.saveSystemConfig(setPath(config, key, value)));
      await refresh();
    } catch (e) {
      setError(errorText(e));
    }
  };
  const pausedTotal = (queues ?? []).reduce((sum, q) => sum + (q.isPaused ? waitingCount(q) : 0), 0);
  return (
    <section class="page" aria-labelledby="jobs-title">
      <div class="page-head">
        <h1 id="jobs-title">Jobs</h1>
        {pausedTotal > 0 && (
          <button
            type="button"
            class="button"
            onClick={() =>
              run(async () => {
                for (const q of queues ?? []) if (q.isPaused) await api.jobCommand(q.name, 'resume');
              })
            }
          >
            Resume {pausedTotal} paused jobs
          </button>
        )}
      </div>
      {error && <Notice>{error}</Notice>}
      {!queues && !error && <Loading what="queues" />}
      <div class="cards">
        {(queues ?? []).map((queue) => (
          <QueueCard
            key={queue.name}
            queue={queue}
            largest={largest.current.get(queue.name) ?? 0}
            features={features}
            config={config}
            onCommand={run}
            onConcurrency={setConcurrency}
          />
        ))}
      </div>
      {dialog}
    </section>
  );
}
