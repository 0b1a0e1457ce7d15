// SPDX-License-Identifier: AGPL-3.0-or-later
// The ordered list of photos the viewer was opened from (timeline, search results, a person's photos), so the
// arrow keys step through what the user was looking at. Kept in sessionStorage so a reload keeps it.

const KEY = 'focal.viewer.ids';

export function setViewerContext(ids: readonly number[]): void {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(ids));
  } catch {
    // storage full or disabled: the viewer then has no next/previous
  }
}

export function neighbours(id: number): { previous?: number; next?: number } {
  let ids: unknown;
  try {
    ids = JSON.parse(sessionStorage.getItem(KEY) ?? '[]');
  } catch {
    return {};
  }
  if (!Array.isArray(ids)) return {};
  const index = ids.indexOf(id);
  if (index < 0) return {};
  const at = (i: number) => (typeof ids[i] === 'number' ? (ids[i] as number) : undefined);
  return { previous: at(index - 1), next: at(index + 1) };
}
