// SPDX-License-Identifier: AGPL-3.0-or-later
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/preact';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mockFetch } from '../test/fetch-mock';
import { Jobs } from './Jobs';

afterEach(cleanup);
beforeAll(() => {
  // happy-dom's <dialog> may lack the modal API; the page only needs open/close.
  const proto = HTMLDialogElement.prototype as HTMLDialogElement & { showModal?: () => void };
  if (!proto.showModal) proto.showModal = function (this: HTMLDialogElement) { this.setAttribute('open', ''); };
  if (!proto.close) proto.close = function (this: HTMLDialogElement) { this.removeAttribute('open'); };
});

const idle = { active: 0, completed: 4, failed: 0, delayed: 0, waiting: 0, paused: 0 };
const queues = [
  { name: 'faceDetection', isPaused: false, concurrency: 2, statistics: idle },
  { name: 'smartSearch', isPaused: false, concurrency: 2, statistics: { ...idle, active: 1, waiting: 5 } },
];

describe('Jobs', () => {
  it('asks before a face Reset and sends nothing when cancelled', async () => {
    const calls = mockFetch({
      'GET /api/queues': queues,
      'GET /api/system-config': { job: { faceDetection: { concurrency: 2 } } },
      'PUT /api/jobs/faceDetection': {},
    });
    render(<Jobs />);
    const card = await screen.findByTestId('queue-faceDetection');
    fireEvent.click(within(card).getByRole('button', { name: /Reset/ }));
    expect(await screen.findByText(/This will also clear named people/)).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    await new Promise((r) => setTimeout(r, 20));
    expect(calls.some((c) => c.method === 'PUT')).toBe(false);

    fireEvent.click(within(card).getByRole('button', { name: /Reset/ }));
    fireEvent.click(await screen.findByRole('button', { name: 'Yes, reprocess' }));
    await waitFor(() => expect(calls.find((c) => c.method === 'PUT')?.body).toEqual({ command: 'start', force: true }));
  });

  it('shows counts and offers pause, not start, for a busy queue', async () => {
    mockFetch({ 'GET /api/queues': queues, 'GET /api/system-config': {} });
    render(<Jobs />);
    const card = await screen.findByTestId('queue-smartSearch');
    expect(within(card).getByTestId('active').textContent).toBe('1');
    expect(within(card).getByTestId('waiting').textContent).toBe('5');
    expect(within(card).queryByRole('button', { name: /^All/ })).toBeNull();
    expect(within(card).getByRole('button', { name: /Pause/ })).toBeTruthy();
  });
});
