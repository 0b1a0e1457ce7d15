// SPDX-License-Identifier: AGPL-3.0-or-later
// Reads and writes a value in the nested system config by dotted path ("machineLearning.clip.modelName"),
// returning a new object so that Preact sees the change.

export function getPath(config: unknown, path: string): unknown {
  let node: unknown = config;
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

export function setPath<T extends Record<string, unknown>>(config: T, path: string, value: unknown): T {
  const [head, ...rest] = path.split('.');
  const copy: Record<string, unknown> = { ...config };
  if (rest.length === 0) {
    copy[head] = value;
  } else {
    const child = copy[head];
    copy[head] = setPath(child !== null && typeof child === 'object' ? (child as Record<string, unknown>) : {}, rest.join('.'), value);
  }
  return copy as T;
}
