// SPDX-License-Identifier: AGPL-3.0-or-later
// Shapes of the API responses the UI reads (docs/openapi.yaml has the full schemas).

export interface User {
  id: number;
  email: string;
  name: string;
  isAdmin: boolean;
}

export interface ServerConfig {
  isInitialized: boolean;
}

export interface Features {
  smartSearch: boolean;
  facialRecognition: boolean;
  duplicateDetection: boolean;
  ocr?: boolean;
  [feature: string]: boolean | undefined;
}

export interface Exif {
  make: string | null;
  model: string | null;
  lensModel: string | null;
  description: string | null;
  latitude: number | null;
  longitude: number | null;
  dateTimeOriginal: string | null;
  exifImageWidth: number | null;
  exifImageHeight: number | null;
  fileSizeInByte: number;
  orientation?: string | number | null;
}

export interface Asset {
  id: number;
  originalFileName: string;
  fileCreatedAt: string;
  width: number;
  height: number;
  fileSize?: number;
  type: string;
  isFavorite: boolean;
  isTrashed?: boolean;
  exifInfo?: Exif;
}

export interface TimelineBucket {
  timeBucket: string;
  count: number;
}

export type TimelineAsset = Pick<Asset, 'id' | 'fileCreatedAt' | 'width' | 'height' | 'originalFileName' | 'type' | 'isFavorite'>;

export interface TimelineBucketAssets {
  timeBucket: string;
  assets: TimelineAsset[];
}

export interface SearchRequest {
  query?: string;
  ocr?: string;
  takenAfter?: string;
  takenBefore?: string;
  make?: string;
  model?: string;
  personIds?: number[];
  size?: number;
  page?: number;
}

export interface SearchPage {
  assets: { total: number; count: number; items: Asset[]; nextPage: string | null };
}

export interface Person {
  id: number;
  name: string;
  birthDate: string | null;
  thumbnailPath: string;
  isHidden: boolean;
  isFavorite: boolean;
  faceCount: number;
}

export interface PeoplePage {
  people: Person[];
  total: number;
  hidden: number;
}

export interface Face {
  id: number;
  assetId: number;
  imageWidth: number;
  imageHeight: number;
  boundingBoxX1: number;
  boundingBoxY1: number;
  boundingBoxX2: number;
  boundingBoxY2: number;
  sourceType: string;
  person: Person | null;
}

export interface QueueStatistics {
  active: number;
  completed: number;
  failed: number;
  delayed: number;
  waiting: number;
  paused: number;
}

export interface Queue {
  name: string;
  isPaused: boolean;
  concurrency: number;
  statistics: QueueStatistics;
}

export interface DuplicateGroup {
  duplicateId: number;
  assetIds: number[];
  suggestedKeepAssetIds: number[];
}

export interface MlHealth {
  balance?: 'fallback' | 'least-outstanding';
  urls: {
    url: string;
    healthy: boolean;
    outstanding?: number;
    requests?: number;
    failures?: number;
    latencyMs?: Record<string, number>;
  }[];
}

// The system config is a deep JSON object; the settings page edits it by dotted path (lib/config-path.ts).
export type SystemConfig = Record<string, unknown>;
