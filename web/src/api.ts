// SPDX-License-Identifier: AGPL-3.0-or-later
// The REST API of `focal serve` (same origin; the session cookie is sent by the browser, never read by scripts).
import type {
  Asset,
  DuplicateGroup,
  Face,
  Features,
  MlHealth,
  Person,
  PeoplePage,
  Queue,
  SearchPage,
  SearchRequest,
  ServerConfig,
  SystemConfig,
  TimelineBucket,
  TimelineBucketAssets,
  User,
} from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

// Fired when any call answers 401: the app shows the login page.
export const UNAUTHORIZED_EVENT = 'focal:unauthorized';

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
  }
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, `The server cannot be reached (${String(error)})`);
  }
  if (response.status === 401 && !path.startsWith('/api/auth/')) {
    window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
  }
  if (!response.ok) {
    let message = `${method} ${path} failed with HTTP ${response.status}`;
    try {
      const parsed = (await response.json()) as { message?: unknown };
      if (typeof parsed.message === 'string') message = parsed.message;
    } catch {
      // not JSON: keep the generic message
    }
    throw new ApiError(response.status, message);
  }
  if (response.status === 204) return undefined as T;
  const type = response.headers.get('content-type') ?? '';
  return (type.includes('json') ? await response.json() : undefined) as T;
}

const get = <T>(path: string) => request<T>('GET', path);
const query = (params: Record<string, string | number | boolean | undefined>) => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
};

export const thumbnailUrl = (id: number) => `/api/assets/${id}/thumbnail`;
export const previewUrl = (id: number) => `/api/assets/${id}/thumbnail?size=preview`;
export const personThumbnailUrl = (id: number) => `/api/people/${id}/thumbnail`;

export const api = {
  serverConfig: () => get<ServerConfig>('/api/server/config'),
  features: () => get<Features>('/api/server/features'),
  me: () => get<User>('/api/users/me'),
  login: (email: string, password: string) => request<User>('POST', '/api/auth/login', { email, password }),
  logout: () => request<void>('POST', '/api/auth/logout'),
  signUp: (name: string, email: string, password: string) =>
    request<User>('POST', '/api/auth/admin-sign-up', { name, email, password }),

  timelineBuckets: () => get<TimelineBucket[]>('/api/timeline/buckets'),
  timelineBucket: (timeBucket: string) =>
    get<TimelineBucketAssets>(`/api/timeline/bucket${query({ timeBucket })}`),
  asset: (id: number) => get<Asset>(`/api/assets/${id}`),
  trash: (ids: number[]) => request<void>('DELETE', '/api/assets', { ids }),

  smartSearch: (body: SearchRequest) => request<SearchPage>('POST', '/api/search/smart', body),
  metadataSearch: (body: SearchRequest) => request<SearchPage>('POST', '/api/search/metadata', body),
  suggestions: (type: 'camera-make' | 'camera-model', make?: string) =>
    get<string[]>(`/api/search/suggestions${query({ type, make })}`),

  people: (withHidden: boolean) =>
    get<PeoplePage>(`/api/people${query({ withHidden, minimumFaces: 1, size: 1000 })}`),
  person: (id: number) => get<Person>(`/api/people/${id}`),
  updatePerson: (id: number, fields: Partial<Person> & { featureFaceAssetId?: number }) =>
    request<Person>('PUT', `/api/people/${id}`, fields),
  mergePeople: (into: number, ids: number[]) =>
    request<{ id: number; success: boolean }[]>('POST', `/api/people/${into}/merge`, { ids }),
  searchPeople: (name: string) => get<Person[]>(`/api/search/person${query({ name, withHidden: true })}`),
  faces: (assetId: number) => get<Face[]>(`/api/faces${query({ id: assetId })}`),
  reassignFace: (faceId: number, personId: number) =>
    request<Person>('PUT', `/api/faces/${personId}`, { id: faceId }),
  faceToNewPerson: (faceId: number) => request<Person>('POST', `/api/faces/${faceId}/person`),
  removeFace: (faceId: number) => request<void>('DELETE', `/api/faces/${faceId}`),

  queues: () => get<Queue[]>('/api/queues'),
  startJob: (name: string, force: boolean | undefined) =>
    request<unknown>('PUT', `/api/jobs/${name}`, { command: 'start', force }),
  jobCommand: (name: string, command: 'pause' | 'resume' | 'empty' | 'clear-failed') =>
    request<unknown>('PUT', `/api/jobs/${name}`, { command }),

  duplicates: () => get<DuplicateGroup[]>('/api/duplicates'),
  resolveDuplicate: (duplicateId: number, keepAssetIds: number[], trashAssetIds: number[]) =>
    request<{ duplicateId: number; status: string; message?: string }[]>('POST', '/api/duplicates/resolve', {
      groups: [{ duplicateId, keepAssetIds, trashAssetIds }],
    }),
  dismissDuplicate: (duplicateId: number) => request<void>('DELETE', `/api/duplicates/${duplicateId}`),

  systemConfig: () => get<SystemConfig>('/api/system-config'),
  saveSystemConfig: (config: SystemConfig) => request<SystemConfig>('PUT', '/api/system-config', config),
  mlHealth: (refresh: boolean) => get<MlHealth>(`/api/server/ml-health${query({ refresh: refresh || undefined })}`),
};

// Uploads one file (multipart field assetData) with progress; fetch has no upload progress, XHR does.
export function uploadFile(file: File, onProgress: (sent: number) => void): Promise<{ id: number; status: string }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/assets');
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      let body: { id?: number; status?: string; message?: string } = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // keep the empty body
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve({ id: body.id ?? 0, status: body.status ?? 'created' });
      else reject(new ApiError(xhr.status, body.message ?? `Upload of ${file.name} failed (HTTP ${xhr.status})`));
    };
    xhr.onerror = () => reject(new ApiError(0, `Upload of ${file.name} failed: the server cannot be reached`));
    const form = new FormData();
    form.append('assetData', file, file.name);
    form.append('filename', file.name);
    xhr.send(form);
  });
}
