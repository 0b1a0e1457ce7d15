# SPDX-License-Identifier: AGPL-3.0-or-later
"""Prints the suite's figures (kept in the CTest log): per group of checks, the images and faces compared,
candidate-set mismatches, the largest box/score/landmark differences and the smallest embedding cosine; the
byte-exactness of the preprocessing; faces found per photo by the real detector."""

from __future__ import annotations

import faces_common as fc


def _fmt(values: list, how) -> str:
    return "-" if not values else how(values)


def test_zz_report():
    lines = ["", "faces fidelity summary"]
    for group, figures in sorted(fc.SUMMARY.items()):
        if group in ("numerics", "identity"):
            continue
        lines.append(
            f"  {group}: {len(figures['images'])} requests, {sum(figures['faces'])} faces, "
            f"candidate-set mismatches {sum(figures['candidate_mismatch'])}, "
            f"max |box diff| {_fmt(figures['box_maxdiff'], max)} ({sum(figures['box_half_diffs'])} coords off by the "
            f".5 rule), max |score diff| {_fmt(figures['score_maxdiff'], lambda v: f'{max(v):.3g}')}, "
            f"max |landmark diff| {_fmt(figures['landmark_maxdiff'], lambda v: f'{max(v):.3g}')} px, "
            f"min cosine {_fmt(figures['cosine'], lambda v: f'{min(v):.7f}')}, "
            f"max |emb diff| {_fmt(figures['emb_maxdiff'], lambda v: f'{max(v):.3g}')}"
            + (f", faces at minScore 0: {figures['faces_at_min_score_0']}" if figures.get("faces_at_min_score_0") else "")
            + (f", grid faces: {figures['grid_faces']}" if figures.get("grid_faces") else "")
        )
    n = fc.SUMMARY.get("numerics", {})
    if n:
        lines.append(
            f"  preprocessing vs OpenCV: resize {sum(n.get('resize_cases', []))} cases min exact "
            f"{_fmt(n.get('resize_exact', []), min)}; letterbox {len(n.get('letterbox_exact', []))} canvases min exact "
            f"{_fmt(n.get('letterbox_exact', []), min)}; warpAffine {sum(n.get('warp_cases', []))} general affines "
            f"exact; ArcFace crops {sum(n.get('crop_faces', []))} faces, mean exact "
            f"{_fmt(n.get('crop_exact_mean', []), lambda v: f'{v[0]:.6f}')}, min exact "
            f"{_fmt(n.get('crop_exact', []), lambda v: f'{min(v):.6f}')}, max |diff| {_fmt(n.get('crop_maxdiff', []), max)}"
        )
    i = fc.SUMMARY.get("identity", {})
    if i:
        lines.append(
            f"  real MobileFaceNet: {i['pairs'][0]} pairs, mean cosine same person {i['same_mean'][0]:.3f}, "
            f"different people {i['diff_mean'][0]:.3f}"
        )
    if fc.FOUND:
        lines.append("  faces found by SCRFD-500M (minScore 0.5 / 0.7):")
        lines.extend(f"    {name}: {c['0.5']} / {c['0.7']}" for name, c in sorted(fc.FOUND.items()))
    print("\n".join(lines))
