// SPDX-License-Identifier: AGPL-3.0-or-later
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mockFetch } from '../test/fetch-mock';
import { Login } from './Login';

afterEach(cleanup);

describe('Login', () => {
  it('offers the first-admin sign-up on a new server, then signs in', async () => {
    const calls = mockFetch({
      'GET /api/server/config': { isInitialized: false },
      'POST /api/auth/admin-sign-up': { id: 1, email: 'a@b.c', name: 'A', isAdmin: true },
      'POST /api/auth/login': { accessToken: 'x' },
    });
    const signedIn = vi.fn();
    render(<Login onSignedIn={signedIn} />);
    await screen.findByText('Create admin account');
    fireEvent.input(screen.getByLabelText('Name'), { target: { value: 'Ada' } });
    fireEvent.input(screen.getByLabelText('Email'), { target: { value: 'ada@example.com' } });
    fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'correct horse' } });
    fireEvent.submit(screen.getByRole('button', { name: 'Create admin account' }).closest('form') as HTMLFormElement);
    await waitFor(() => expect(signedIn).toHaveBeenCalled());
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'GET /api/server/config',
      'POST /api/auth/admin-sign-up',
      'POST /api/auth/login',
    ]);
    expect(calls[1].body).toEqual({ name: 'Ada', email: 'ada@example.com', password: 'correct horse' });
  });

  it('shows the server message when the password is wrong', async () => {
    mockFetch({ 'GET /api/server/config': { isInitialized: true } });
    globalThis.fetch = vi.fn(async (input: RequestInfo | URL) =>
      String(input).endsWith('/api/server/config')
        ? new Response(JSON.stringify({ isInitialized: true }), { headers: { 'content-type': 'application/json' } })
        : new Response(JSON.stringify({ message: 'Incorrect email or password' }), { status: 401 }),
    ) as unknown as typeof fetch;
    render(<Login onSignedIn={() => undefined} />);
    await screen.findByText('Sign in');
    fireEvent.input(screen.getByLabelText('Email'), { target: { value: 'ada@example.com' } });
    fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'wrong' } });
    fireEvent.submit(screen.getByRole('button', { name: 'Sign in' }).closest('form') as HTMLFormElement);
    expect(await screen.findByRole('alert')).toHaveProperty('textContent', 'Incorrect email or password');
  });
});
