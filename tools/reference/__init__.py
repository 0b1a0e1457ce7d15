# SPDX-License-Identifier: AGPL-3.0-or-later
"""Reference pipelines written from the spec (shared/spec/immich-ml-service.md §6) with Pillow, numpy and
onnxruntime, used to check focal-ml's numerics."""
