// SPDX-License-Identifier: AGPL-3.0-or-later
// Upload by button or by dropping files anywhere on the page, one file at a time with a progress bar over
// the whole batch; duplicates and failures are reported, not hidden.
import { useEffect, useRef, useState } from 'preact/hooks';
import { uploadFile } from '../api';
import { Icon } from './icons';
import { Notice, errorText } from './ui';

interface Batch {
  total: number;
  totalBytes: number;
  done: number;
  sentBytes: number;
  created: number;
  duplicates: number;
  failures: string[];
  running: boolean;
}

export function Uploader({ onUploaded }: { onUploaded: () => void }) {
  const [batch, setBatch] = useState<Batch | null>(null);
  const [dragging, setDragging] = useState(false);

  const upload = async (files: File[]) => {
    const images = files.filter((f) => f.size > 0);
    if (images.length === 0 || batch?.running) return;
    const state: Batch = {
      total: images.length,
      totalBytes: images.reduce((sum, f) => sum + f.size, 0),
      done: 0,
      sentBytes: 0,
      created: 0,
      duplicates: 0,
      failures: [],
      running: true,
    };
    setBatch({ ...state });
    let finishedBytes = 0;
    for (const file of images) {
      try {
        const result = await uploadFile(file, (sent) => setBatch({ ...state, sentBytes: finishedBytes + sent }));
        if (result.status === 'duplicate') state.duplicates += 1;
        else state.created += 1;
      } catch (e) {
        state.failures.push(errorText(e));
      }
      finishedBytes += file.size;
      state.done += 1;
      state.sentBytes = finishedBytes;
      setBatch({ ...state });
    }
    state.running = false;
    setBatch({ ...state });
    onUploaded();
  };

  // The window listeners live as long as the component and call the latest upload().
  const latestUpload = useRef(upload);
  latestUpload.current = upload;
  useEffect(() => {
    const hasFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files');
    const over = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      setDragging(true);
    };
    const leave = (e: DragEvent) => {
      if (e.relatedTarget === null) setDragging(false);
    };
    const drop = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      setDragging(false);
      void latestUpload.current(Array.from(e.dataTransfer?.files ?? []));
    };
    window.addEventListener('dragover', over);
    window.addEventListener('dragleave', leave);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragover', over);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('drop', drop);
    };
  }, []);

  const percent = batch && batch.totalBytes > 0 ? Math.round((100 * batch.sentBytes) / batch.totalBytes) : 0;
  return (
    <div class="uploader">
      <label class="button">
        <Icon name="upload" /> Upload
        <input
          type="file"
          class="visually-hidden"
          multiple
          accept="image/*"
          onChange={(e) => {
            const input = e.currentTarget;
            void upload(Array.from(input.files ?? []));
            input.value = '';
          }}
        />
      </label>
      {dragging && (
        <div class="drop-overlay" aria-hidden="true">
          Drop photos to upload
        </div>
      )}
      {batch && (
        <div class="upload-status" role="status">
          {batch.running ? (
            <>
              <progress max={100} value={percent} aria-label="Upload progress" />
              <span>
                Uploading {Math.min(batch.done + 1, batch.total)} of {batch.total} ({percent}%)
              </span>
            </>
          ) : (
            <span>
              Uploaded {batch.created}
              {batch.duplicates > 0 && `, ${batch.duplicates} already in the library`}
              {batch.failures.length > 0 && `, ${batch.failures.length} failed`}
            </span>
          )}
          {batch.failures.length > 0 && !batch.running && <Notice>{batch.failures.slice(0, 3).join('; ')}</Notice>}
        </div>
      )}
    </div>
  );
}
