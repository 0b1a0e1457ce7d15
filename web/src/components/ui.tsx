// SPDX-License-Identifier: AGPL-3.0-or-later
// Small shared pieces: the error/notice banner, a confirmation dialog on <dialog>, the loading line, and a hook
// that loads data and reports errors the same way on every page.
import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export function Notice({ kind = 'error', children }: { kind?: 'error' | 'info' | 'warning'; children: ComponentChildren }) {
  return (
    <div class={`notice notice-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => Promise<void>;
}

// Runs `load` on mount and whenever `deps` change; the latest call wins.
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const reload = useCallback(async () => {
    const mine = ++generation.current;
    setLoading(true);
    try {
      const value = await load();
      if (mine === generation.current) {
        setData(value);
        setError(undefined);
      }
    } catch (e) {
      if (mine === generation.current) setError(e instanceof Error ? e.message : String(e));
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, deps);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, error, loading, reload };
}

// A modal confirmation: resolves the promise from ask() with the user's answer.
export function useConfirm(): [(message: string, action?: string) => Promise<boolean>, JSX.Element] {
  const dialog = useRef<HTMLDialogElement>(null);
  const [state, setState] = useState<{ message: string; action: string } | null>(null);
  const resolver = useRef<((answer: boolean) => void) | null>(null);
  const ask = useCallback((message: string, action = 'Confirm') => {
    setState({ message, action });
    return new Promise<boolean>((resolve) => {
      resolver.current = resolve;
    });
  }, []);
  useEffect(() => {
    if (state && dialog.current && !dialog.current.open) dialog.current.showModal();
  }, [state]);
  const answer = (value: boolean) => {
    dialog.current?.close();
    setState(null);
    resolver.current?.(value);
    resolver.current = null;
  };
  const element = (
    <dialog ref={dialog} class="dialog" aria-labelledby="confirm-title" onCancel={() => answer(false)}>
      <h2 id="confirm-title">Please confirm</h2>
      <p>{state?.message}</p>
      <div class="row end">
        <button type="button" class="button" onClick={() => answer(false)}>
          Cancel
        </button>
        <button type="button" class="button danger" onClick={() => answer(true)}>
          {state?.action}
        </button>
      </div>
    </dialog>
  );
  return [ask, element];
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
