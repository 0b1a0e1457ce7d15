// SPDX-License-Identifier: AGPL-3.0-or-later
// What the Jobs page shows for a queue, as Immich's admin page does: the buttons offered, what they send, and
// which need a confirmation because they delete results.
import type { Queue } from '../types';

export interface StartButton {
  label: string;
  force: boolean | undefined; // PUT /api/jobs/:name {command: start, force}
  confirm?: string; // asked before sending
}

export interface QueueInfo {
  title: string;
  description: string;
  buttons: StartButton[];
  concurrencyKey?: string; // job.<queue>.concurrency in the system config, when configurable
  feature?: string; // /api/server/features flag that must be on
}

const FACE_RESET =
  'Are you sure you want to reprocess all faces? This will also clear named people.';
const allMissing = (): StartButton[] => [
  { label: 'All', force: true },
  { label: 'Missing', force: false },
];

const QUEUES: Record<string, QueueInfo> = {
  thumbnailGeneration: {
    title: 'Generate thumbnails',
    description: 'Thumbnails and previews of every photo (what the other jobs read).',
    buttons: allMissing(),
    concurrencyKey: 'job.thumbnailGeneration.concurrency',
  },
  metadataExtraction: {
    title: 'Extract metadata',
    description: 'Dates, camera and place from EXIF.',
    buttons: allMissing(),
    concurrencyKey: 'job.metadataExtraction.concurrency',
  },
  smartSearch: {
    title: 'Smart search',
    description: 'CLIP embeddings for natural-language search.',
    buttons: allMissing(),
    concurrencyKey: 'job.smartSearch.concurrency',
    feature: 'smartSearch',
  },
  faceDetection: {
    title: 'Face detection',
    description: 'Finds faces and computes their embeddings.',
    buttons: [
      { label: 'Reset', force: true, confirm: FACE_RESET },
      { label: 'Refresh', force: undefined },
      { label: 'Missing', force: false },
    ],
    concurrencyKey: 'job.faceDetection.concurrency',
    feature: 'facialRecognition',
  },
  facialRecognition: {
    title: 'Facial recognition',
    description: 'Groups detected faces into people.',
    buttons: [
      { label: 'Reset', force: true, confirm: FACE_RESET },
      { label: 'Missing', force: false },
    ],
    feature: 'facialRecognition',
  },
  duplicateDetection: {
    title: 'Duplicate detection',
    description: 'Finds visually identical photos with the CLIP embeddings.',
    buttons: allMissing(),
    feature: 'duplicateDetection',
  },
  ocr: {
    title: 'Text in photos (OCR)',
    description: 'Reads text in photos for text search.',
    buttons: allMissing(),
    concurrencyKey: 'job.ocr.concurrency',
    feature: 'ocr',
  },
  backgroundTask: {
    title: 'Background tasks',
    description: 'Clean-up and maintenance.',
    buttons: [],
  },
};

export function queueInfo(name: string): QueueInfo {
  return QUEUES[name] ?? { title: name, description: '', buttons: allMissing() };
}

export const queueOrder = Object.keys(QUEUES);

// Immich's card: Waiting counts waiting + paused + delayed; idle means nothing active or waiting and not paused.
export function waitingCount(queue: Queue): number {
  const s = queue.statistics;
  return s.waiting + s.paused + s.delayed;
}

export function isIdle(queue: Queue): boolean {
  return queue.statistics.active + waitingCount(queue) === 0 && !queue.isPaused;
}

// Progress of the current run: the share of the largest backlog seen since the page opened that is done.
export function progress(remaining: number, largestSeen: number): number {
  if (largestSeen <= 0) return remaining > 0 ? 0 : 1;
  return Math.min(1, Math.max(0, 1 - remaining / largestSeen));
}
