// SPDX-License-Identifier: AGPL-3.0-or-later
import { describe, expect, it } from 'vitest';
import { getPath, setPath } from './config-path';

describe('config paths', () => {
  const config = { machineLearning: { clip: { enabled: true, modelName: 'ViT-B-32__openai' }, urls: ['a'] } };

  it('reads nested values and undefined for missing ones', () => {
    expect(getPath(config, 'machineLearning.clip.modelName')).toBe('ViT-B-32__openai');
    expect(getPath(config, 'machineLearning.ocr.enabled')).toBeUndefined();
    expect(getPath(config, 'machineLearning.urls.length')).toBe(1);
  });

  it('writes without mutating the original', () => {
    const next = setPath(config, 'machineLearning.clip.enabled', false);
    expect(getPath(next, 'machineLearning.clip.enabled')).toBe(false);
    expect(config.machineLearning.clip.enabled).toBe(true);
    expect(getPath(next, 'machineLearning.urls')).toBe(config.machineLearning.urls);
  });

  it('creates missing objects', () => {
    expect(getPath(setPath({}, 'job.ocr.concurrency', 2), 'job.ocr.concurrency')).toBe(2);
  });
});
