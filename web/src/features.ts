// SPDX-License-Identifier: AGPL-3.0-or-later
// The server's feature flags (/api/server/features), refreshed on navigation, for the pages that adapt to them.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Features } from './types';

export const FeaturesContext = createContext<Features | undefined>(undefined);
export const useFeatures = () => useContext(FeaturesContext);
