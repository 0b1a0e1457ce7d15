// SPDX-License-Identifier: AGPL-3.0-or-later
import { describe, expect, it } from 'vitest';
import type { Queue } from '../types';
import { isIdle, progress, queueInfo, waitingCount } from './jobs';

const queue = (statistics: Partial<Queue['statistics']>, isPaused = false): Queue => ({
  name: 'smartSearch',
  isPaused,
  concurrency: 2,
  statistics: { active: 0, completed: 0, failed: 0, delayed: 0, waiting: 0, paused: 0, ...statistics },
});

describe('queue card logic', () => {
  it('counts waiting, paused and delayed jobs as waiting', () => {
    expect(waitingCount(queue({ waiting: 1, paused: 2, delayed: 3 }))).toBe(6);
  });

  it('is idle only when nothing is active or waiting and the queue is not paused', () => {
    expect(isIdle(queue({}))).toBe(true);
    expect(isIdle(queue({ active: 1 }))).toBe(false);
    expect(isIdle(queue({ delayed: 1 }))).toBe(false);
    expect(isIdle(queue({}, true))).toBe(false);
  });

  it('asks before resetting faces, which clears named people', () => {
    const reset = queueInfo('faceDetection').buttons.find((b) => b.label === 'Reset');
    expect(reset?.force).toBe(true);
    expect(reset?.confirm).toMatch(/clear named people/);
    expect(queueInfo('facialRecognition').buttons[0].confirm).toBeDefined();
    expect(queueInfo('smartSearch').buttons.every((b) => b.confirm === undefined)).toBe(true);
  });

  it('falls back to All/Missing for an unknown queue', () => {
    expect(queueInfo('newQueue').buttons.map((b) => b.label)).toEqual(['All', 'Missing']);
  });

  it('reports progress against the largest backlog seen', () => {
    expect(progress(0, 0)).toBe(1);
    expect(progress(5, 0)).toBe(0);
    expect(progress(25, 100)).toBe(0.75);
  });
});
