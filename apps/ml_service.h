// SPDX-License-Identifier: AGPL-3.0-or-later
// Runs focal-ml with a parsed configuration; returns the process exit code.
#pragma once

#include "config/ml_config.h"
#include "hub/hub.h"

int run_ml_service(const focal::MlConfig& cfg, const focal::HubConfig& hub_cfg, const char* argv0,
                   const char* version);
