// SPDX-License-Identifier: AGPL-3.0-or-later
// A fetch stand-in for component tests: answers by "METHOD path" and records every call.
import { vi } from 'vitest';

export interface Call {
  method: string;
  path: string;
  body: unknown;
}

export function mockFetch(routes: Record<string, unknown | ((body: unknown) => unknown)>) {
  const calls: Call[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://focal.test');
    const method = init?.method ?? 'GET';
    const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    calls.push({ method, path: url.pathname + url.search, body });
    const key = Object.keys(routes).find((k) => k === `${method} ${url.pathname}` || k === `${method} ${url.pathname}${url.search}`);
    if (!key) return new Response(JSON.stringify({ message: `no mock for ${method} ${url.pathname}` }), { status: 404 });
    const route = routes[key];
    const value = typeof route === 'function' ? (route as (b: unknown) => unknown)(body) : route;
    if (value === undefined) return new Response(null, { status: 204 });
    return new Response(JSON.stringify(value), { status: 200, headers: { 'content-type': 'application/json' } });
  });
  globalThis.fetch = fetchMock as unknown as typeof fetch;
  return calls;
}
