// SPDX-License-Identifier: AGPL-3.0-or-later
// Inline SVG icons (bundled: the page loads nothing from other hosts). Decorative: labelled by their buttons.
import type { JSX } from 'preact';

const paths = {
  photos: 'M4 5h16v14H4z M4 15l4-4 3 3 4-5 5 6',
  search: 'M10.5 4a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13z M15.5 15.5 20 20',
  people: 'M9 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7z M2.5 20c.8-3.6 3.3-5.5 6.5-5.5s5.7 1.9 6.5 5.5 M16 4.5a3.2 3.2 0 0 1 0 6.2 M18 14.8c1.8.7 3 2.4 3.5 5.2',
  jobs: 'M4 6h16 M4 12h16 M4 18h10',
  duplicates: 'M8 8h12v12H8z M4 4h12v2 M4 4v12h2',
  settings: 'M12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6z M12 2v3 M12 19v3 M4.9 4.9l2.1 2.1 M17 17l2.1 2.1 M2 12h3 M19 12h3 M4.9 19.1 7 17 M17 7l2.1-2.1',
  upload: 'M12 16V4 M7 9l5-5 5 5 M4 20h16',
  theme: 'M12 3a9 9 0 1 0 9 9 7 7 0 0 1-9-9z',
  logout: 'M15 4h4v16h-4 M10 8l-4 4 4 4 M6 12h10',
  left: 'M15 5l-7 7 7 7',
  right: 'M9 5l7 7-7 7',
  close: 'M6 6l12 12 M18 6 6 18',
  pencil: 'M4 20h4L19 9l-4-4L4 16z M14 6l4 4',
  up: 'M6 15l6-6 6 6',
  down: 'M6 9l6 6 6-6',
  trash: 'M5 7h14 M10 7V4h4v3 M7 7l1 13h8l1-13',
} as const;

export type IconName = keyof typeof paths;

export function Icon({ name, size = 20 }: { name: IconName; size?: number }): JSX.Element {
  return (
    <svg
      class="icon"
      width={size}
      height={size}
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      stroke-width="1.8"
      stroke-linecap="round"
      stroke-linejoin="round"
      aria-hidden="true"
      focusable="false"
    >
      <path d={paths[name]} />
    </svg>
  );
}
