# SPDX-License-Identifier: AGPL-3.0-or-later
"""Reference pipelines reproducing Immich's ML preprocessing and postprocessing with Pillow, numpy and
onnxruntime, used to check focal-ml's numerics."""
