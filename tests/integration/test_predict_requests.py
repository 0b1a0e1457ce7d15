# SPDX-License-Identifier: AGPL-3.0-or-later
"""POST /predict request validation, data-driven (Immich's parsing rules and status codes, plus focal-ml's hardening).

Each case is (id, request spec, expected status, detail predicate). Every error answer must be a JSON object
with a `detail` key; the predicate then checks the detail. No model is installed, so a request that passes
validation (and image decoding) reaches the model layer: 503 "not in the model cache" (the session servers' cache is
empty) or 501 "No model backend for <task>.<type> in this build".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Optional
from urllib.parse import urlencode

import pytest

from focal_client import (
    CLIP_TEXTUAL,
    CLIP_VISUAL,
    FACES,
    NO_BACKEND_CLIP_TEXTUAL,
    reached_backend,
    BACKEND_STATUSES,
    NO_BACKEND_CLIP_VISUAL,
    OCR,
    PHOTOS,
    Part,
    Response,
    multipart,
    new_boundary,
    predict_parts,
    request,
)

JPEG = (PHOTOS / "food-cake.jpg").read_bytes()
TEXT = "a photo of a cat"
MISSING_ENTRIES = [{"type": "missing", "loc": ["body", "entries"], "msg": "Field required", "input": None}]


# --------------------------------------------------------------------------------------------------
# Request specs


@dataclass
class Spec:
    body: Optional[bytes]
    headers: dict = field(default_factory=dict)
    method: str = "POST"
    path: str = "/predict"

    def send(self, port: int) -> Response:
        return request(port, self.method, self.path, body=self.body, headers=self.headers)


def mp(entries=None, image=None, text=None, extra=()) -> Spec:
    body, ctype = multipart(predict_parts(entries, image, text) + list(extra))
    return Spec(body, {"Content-Type": ctype})


def raw_parts(*parts: Part) -> Spec:
    body, ctype = multipart(parts)
    return Spec(body, {"Content-Type": ctype})


def with_content_type(template: str) -> Spec:
    """A clip.textual request whose Content-Type header is `template` with {b} replaced by the boundary."""
    boundary = new_boundary()
    body, _ = multipart(predict_parts(CLIP_TEXTUAL, text=TEXT), boundary=boundary)
    return Spec(body, {"Content-Type": template.format(b=boundary)})


def urlenc(**fields) -> Spec:
    data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
    return Spec(urlencode(data).encode(), {"Content-Type": "application/x-www-form-urlencoded"})


def clip_text_model(name) -> Spec:
    return mp({"clip": {"textual": {"modelName": name}}}, text=TEXT)


def clip_visual_opts(options) -> dict:
    return {"clip": {"visual": {"modelName": "ViT-B-32__openai", "options": options}}}


def face_detection(options) -> dict:
    return {"facial-recognition": {"detection": {"modelName": "buffalo_l", "options": options}}}


def ocr_detection(options) -> dict:
    return {"ocr": {"detection": {"modelName": "PP-OCRv5_mobile", "options": options}}}


def nested_entries(depth: int) -> str:
    """entries whose total nesting (objects and arrays) is exactly `depth` levels; otherwise valid."""
    inner_levels = depth - 4  # root, clip, visual, options are 4 levels
    assert inner_levels >= 1
    value = "[" * inner_levels + "]" * inner_levels
    return '{"clip":{"visual":{"modelName":"ViT-B-32__openai","options":{"x":' + value + "}}}}"


# --------------------------------------------------------------------------------------------------
# Detail predicates


def missing_entries(r: Response) -> bool:
    return r.detail == MISSING_ENTRIES


def invalid_format(r: Response) -> bool:
    return r.detail == "Invalid request format."


def string_detail(r: Response) -> bool:
    return isinstance(r.detail, str) and len(r.detail) > 0


def any_detail(r: Response) -> bool:
    return r.detail is not None


def equals(text: str) -> Callable[[Response], bool]:
    return lambda r: r.detail == text


def startswith(prefix: str) -> Callable[[Response], bool]:
    return lambda r: isinstance(r.detail, str) and r.detail.startswith(prefix)


def reaches(where: str) -> Callable[[Response], bool]:
    return lambda r: reached_backend(r, where)


def no_backend(r: Response) -> bool:
    """Any task: no backend in this build (501), or the model is not in the empty test cache (503)."""
    detail = r.detail if isinstance(r.detail, str) else ""
    return (detail.startswith("No model backend for ") and detail.endswith(" in this build")) or (
        "is not in the model cache" in detail
    )


NEITHER = "Either image or text must be provided"
FR_DEPENDS = "Task facial-recognition of type recognition depends on output of"
OCR_DEPENDS = "Task ocr of type recognition depends on output of"


# --------------------------------------------------------------------------------------------------
# Malformed requests: (id, spec, status, predicate)

UNSAFE_MODEL_NAMES = [
    ("dotdot-etc-passwd", "../../etc/passwd"),
    ("absolute-path", "/abs/path"),
    ("three-segments", "a/b/c"),
    ("dotdot", ".."),
    ("dot", "."),
    ("backslash", "foo\\bar"),
    ("nul-byte", "bad\x00name"),
    ("newline", "bad\nname"),
    ("empty", ""),
    ("too-long-257", "x" * 257),
    ("too-long-4096", "ViT-B-32__openai" * 256),
    ("org-then-dotdot", "immich-app/.."),
    ("traversal-after-org", "immich-app/../../ViT-B-32__openai"),
]

MALFORMED = [
    # entries missing
    ("entries-missing-with-text", mp(text=TEXT), 422, missing_entries),
    ("entries-missing-with-image", mp(image=JPEG), 422, missing_entries),
    # FastAPI answers 422 (missing entries) for a form with no parts; cpp-httplib rejects the part-less body as
    # malformed multipart (400 "Bad Request"). Either is a JSON 4xx, which is all a client can rely on here.
    ("entries-missing-empty-form", raw_parts(), (400, 422), any_detail),
    ("entries-missing-other-field", raw_parts(Part("entriez", json.dumps(CLIP_VISUAL)), Part("text", TEXT)), 422,
     missing_entries),
    # entries that are not a {task: {type: {...}}} object
    ("entries-not-json", mp("not json", text=TEXT), 422, invalid_format),
    ("entries-truncated-json", mp('{"clip":{"visual":', text=TEXT), 422, invalid_format),
    ("entries-trailing-garbage", mp(json.dumps(CLIP_VISUAL) + "}", image=JPEG), 422, invalid_format),
    ("entries-single-quotes", mp("{'clip':{'visual':{'modelName':'ViT-B-32__openai'}}}", image=JPEG), 422,
     invalid_format),
    ("entries-invalid-utf8", raw_parts(Part("entries", b'{"clip":{"visual":{"modelName":"\xff\xfe"}}}'),
                                       Part("image", JPEG, "blob")), 422, any_detail),
    ("entries-array", mp("[]", text=TEXT), 422, invalid_format),
    ("entries-string", mp('"clip"', text=TEXT), 422, invalid_format),
    ("entries-number", mp("42", text=TEXT), 422, invalid_format),
    ("entries-null", mp("null", text=TEXT), 422, invalid_format),
    ("entries-true", mp("true", text=TEXT), 422, invalid_format),
    ("task-value-string", mp({"clip": "visual"}, text=TEXT), 422, invalid_format),
    ("task-value-array", mp({"clip": [{"modelName": "ViT-B-32__openai"}]}, text=TEXT), 422, invalid_format),
    ("task-value-null", mp({"clip": None}, text=TEXT), 422, invalid_format),
    ("entry-without-modelName", mp({"clip": {"visual": {}}}, image=JPEG), 422, invalid_format),
    ("entry-options-only", mp({"clip": {"visual": {"options": {}}}}, image=JPEG), 422, invalid_format),
    ("entry-modelname-lowercase-key", mp({"clip": {"visual": {"modelname": "ViT-B-32__openai"}}}, image=JPEG), 422,
     invalid_format),
    # entry values of the wrong JSON type (a 500 upstream; focal-ml answers 422)
    ("entry-value-string", mp({"clip": {"visual": "x"}}, image=JPEG), 422, string_detail),
    ("entry-value-array", mp({"clip": {"visual": ["ViT-B-32__openai"]}}, image=JPEG), 422, string_detail),
    ("entry-value-null", mp({"clip": {"visual": None}}, image=JPEG), 422, string_detail),
    ("entry-value-number", mp({"clip": {"visual": 1}}, image=JPEG), 422, string_detail),
    # unknown tasks, types, models (a 500 upstream; focal-ml answers 422)
    ("unknown-task", mp({"foo": {"visual": {"modelName": "ViT-B-32__openai"}}}, image=JPEG), 422, string_detail),
    ("unknown-task-case", mp({"CLIP": {"visual": {"modelName": "ViT-B-32__openai"}}}, image=JPEG), 422,
     string_detail),
    ("unknown-type", mp({"clip": {"pipeline": {"modelName": "ViT-B-32__openai"}}}, image=JPEG), 422, string_detail),
    ("type-ocr-not-accepted", mp({"ocr": {"ocr": {"modelName": "PP-OCRv5_mobile"}}}, image=JPEG), 422,
     string_detail),
    ("type-of-other-task", mp({"clip": {"detection": {"modelName": "ViT-B-32__openai"}}}, image=JPEG), 422,
     string_detail),
    ("visual-for-faces", mp({"facial-recognition": {"visual": {"modelName": "buffalo_l"}}}, image=JPEG), 422,
     string_detail),
    ("unknown-model", mp({"clip": {"visual": {"modelName": "not-a-model"}}}, image=JPEG), 422, string_detail),
    ("unknown-model-close-name", mp({"clip": {"visual": {"modelName": "ViT-B-32__openai2"}}}, image=JPEG), 422,
     string_detail),
    ("clip-with-buffalo_l", mp({"clip": {"visual": {"modelName": "buffalo_l"}}}, image=JPEG), 422, string_detail),
    ("clip-textual-with-paddle", mp({"clip": {"textual": {"modelName": "PP-OCRv5_mobile"}}}, text=TEXT), 422,
     string_detail),
    ("faces-with-clip-model", mp({"facial-recognition": {"detection": {"modelName": "ViT-B-32__openai"}}},
                                 image=JPEG), 422, string_detail),
    ("ocr-with-buffalo_l", mp({"ocr": {"detection": {"modelName": "buffalo_l"}}}, image=JPEG), 422, string_detail),
    ("modelName-number", mp({"clip": {"visual": {"modelName": 42}}}, image=JPEG), 422, string_detail),
    ("modelName-null", mp({"clip": {"visual": {"modelName": None}}}, image=JPEG), 422, string_detail),
    ("modelName-array", mp({"clip": {"visual": {"modelName": ["ViT-B-32__openai"]}}}, image=JPEG), 422,
     string_detail),
    ("modelName-object", mp({"clip": {"visual": {"modelName": {"name": "ViT-B-32__openai"}}}}, image=JPEG), 422,
     string_detail),
    # options
    ("options-string", mp(clip_visual_opts("fast"), image=JPEG), 422, string_detail),
    ("options-array", mp(clip_visual_opts([0.7]), image=JPEG), 422, string_detail),
    ("options-number", mp(clip_visual_opts(1), image=JPEG), 422, string_detail),
    ("minScore-string", mp(face_detection({"minScore": "0.7"}), image=JPEG), 422, string_detail),
    ("minScore-bool", mp(face_detection({"minScore": True}), image=JPEG), 422, string_detail),
    ("minScore-negative", mp(face_detection({"minScore": -0.1}), image=JPEG), 422, string_detail),
    ("minScore-above-one", mp(face_detection({"minScore": 1.5}), image=JPEG), 422, string_detail),
    ("minScore-huge-exponent", mp(face_detection({"minScore": 1e308}), image=JPEG), 422, string_detail),
    ("minScore-ocr-above-one", mp(ocr_detection({"minScore": 2}), image=JPEG), 422, string_detail),
    ("maxResolution-zero", mp(ocr_detection({"maxResolution": 0}), image=JPEG), 422, string_detail),
    ("maxResolution-fraction", mp(ocr_detection({"maxResolution": 736.5}), image=JPEG), 422, string_detail),
    ("scoreMode-unknown", mp(ocr_detection({"scoreMode": "medium"}), image=JPEG), 422, string_detail),
    ("language-number", mp({"clip": {"textual": {"modelName": "ViT-B-32__openai", "options": {"language": 7}}}},
                           text=TEXT), 422, string_detail),
    # unsafe model names
    *[(f"model-name-{cid}", clip_text_model(name), 422, string_detail) for cid, name in UNSAFE_MODEL_NAMES],
    # empty entries
    ("entries-empty-object", mp({}, image=JPEG), 422, string_detail),
    ("entries-task-without-types", mp({"clip": {}}, image=JPEG), 422, string_detail),
    # payload problems
    ("neither-image-nor-text", mp(CLIP_VISUAL), 400, equals(NEITHER)),
    ("neither-image-nor-text-faces", mp(FACES), 400, equals(NEITHER)),
    ("neither-image-nor-text-urlencoded", urlenc(entries=CLIP_VISUAL), 400, equals(NEITHER)),
    ("image-empty", mp(CLIP_VISUAL, image=b""), 422, string_detail),
    ("image-garbage", mp(CLIP_VISUAL, image=b"this is not an image at all" * 10), 422, string_detail),
    ("image-one-byte", mp(CLIP_VISUAL, image=b"\xff"), 422, string_detail),
    ("image-jpeg-soi-only", mp(CLIP_VISUAL, image=b"\xff\xd8\xff"), 422, string_detail),
    ("image-png-signature-only", mp(CLIP_VISUAL, image=b"\x89PNG\r\n\x1a\n"), 422, string_detail),
    ("image-text-file", mp(CLIP_VISUAL, image=b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"), 422,
     string_detail),
    # input kinds and dependencies
    ("textual-with-image-only", mp(CLIP_TEXTUAL, image=JPEG), 422, string_detail),
    ("textual-with-image-and-text", mp(CLIP_TEXTUAL, image=JPEG, text=TEXT), 422, string_detail),
    ("visual-with-text-only", mp(CLIP_VISUAL, text=TEXT), 422, string_detail),
    ("faces-with-text-only", mp(FACES, text=TEXT), 422, string_detail),
    ("recognition-without-detection", mp({"facial-recognition": {"recognition": {"modelName": "buffalo_l"}}},
                                         image=JPEG), 400, startswith(FR_DEPENDS)),
    ("ocr-recognition-without-detection", mp({"ocr": {"recognition": {"modelName": "PP-OCRv5_mobile"}}}, image=JPEG),
     400, startswith(OCR_DEPENDS)),
    ("recognition-with-other-tasks-detection", mp({"ocr": {"detection": {"modelName": "PP-OCRv5_mobile"}},
                                                   "facial-recognition": {"recognition": {"modelName": "buffalo_l"}}},
                                                  image=JPEG), 400, startswith(FR_DEPENDS)),
    # JSON nesting (default limit 32)
    ("entries-nested-33", mp(nested_entries(33), image=JPEG), 422, string_detail),
    ("entries-nested-100000", mp("[" * 100000 + "]" * 100000, image=JPEG), 422, string_detail),
    ("entries-nested-objects-50000", mp('{"a":' * 50000 + "1" + "}" * 50000, image=JPEG), 422, string_detail),
    # content types
    ("content-type-json", Spec(json.dumps({"entries": CLIP_VISUAL, "text": TEXT}).encode(),
                               {"Content-Type": "application/json"}), 422, any_detail),
    ("content-type-text-plain", Spec(b"entries=1", {"Content-Type": "text/plain"}), 422, any_detail),
    ("content-type-octet-stream", Spec(JPEG, {"Content-Type": "application/octet-stream"}), 422, any_detail),
    ("content-type-absent-with-body", Spec(b"entries=%7B%7D", {}), 422, any_detail),
    ("urlencoded-without-entries", urlenc(text=TEXT), 422, missing_entries),
    ("urlencoded-invalid-entries", urlenc(entries="{nope", text=TEXT), 422, invalid_format),
]


def _ids(cases):
    return [c.id if hasattr(c, "id") else c[0] for c in cases]


def check(r: Response, status, predicate) -> None:
    allowed = status if isinstance(status, tuple) else (status,)
    assert r.status in allowed, f"expected {status}, got {r.describe()}"
    assert r.content_type.startswith("application/json"), r.describe()
    body = r.json()
    assert isinstance(body, dict) and "detail" in body, r.describe()
    assert predicate(r), f"unexpected detail: {r.describe()}"


def test_enough_malformed_cases():
    assert len(MALFORMED) >= 40
    assert len(set(_ids(MALFORMED))) == len(MALFORMED), "case ids must be unique"


@pytest.mark.parametrize("name,spec,status,predicate", MALFORMED, ids=_ids(MALFORMED))
def test_malformed_request(port, name, spec, status, predicate):
    check(spec.send(port), status, predicate)


# --------------------------------------------------------------------------------------------------
# Requests that pass validation: they reach the model layer, which answers 503 (the session servers' model cache
# is empty) or 501 (no backend for that task in this build yet).

VALID = [
    ("clip-visual", mp(CLIP_VISUAL, image=JPEG), reaches("clip.visual")),
    ("clip-visual-image-wins-over-text", mp(CLIP_VISUAL, image=JPEG, text=TEXT), reaches("clip.visual")),
    ("clip-textual-language", mp(CLIP_TEXTUAL, text=TEXT), reaches("clip.textual")),
    ("clip-textual-empty-options",
     mp({"clip": {"textual": {"modelName": "ViT-B-32__openai", "options": {}}}}, text=TEXT),
     reaches("clip.textual")),
    ("clip-textual-unicode", mp(CLIP_TEXTUAL, text="ein Foto von einer Katze 🐈 日本語"), reaches("clip.textual")),
    ("clip-textual-mclip", mp({"clip": {"textual": {"modelName": "XLM-Roberta-Large-Vit-B-32"}}}, text=TEXT),
     reaches("clip.textual")),
    ("clip-visual-siglip2", mp({"clip": {"visual": {"modelName": "ViT-B-16-SigLIP2__webli"}}}, image=JPEG),
     reaches("clip.visual")),
    ("model-name-with-org", mp({"clip": {"visual": {"modelName": "immich-app/ViT-B-32__openai"}}}, image=JPEG),
     reaches("clip.visual")),
    ("model-name-with-colons", mp({"clip": {"visual": {"modelName": "ViT-B-32::openai"}}}, image=JPEG),
     reaches("clip.visual")),
    ("faces", mp(FACES, image=JPEG), no_backend),
    ("faces-detection-only", mp(face_detection({"minScore": 0.5}), image=JPEG), no_backend),
    ("faces-minScore-bounds", mp(face_detection({"minScore": 0}), image=JPEG), no_backend),
    ("faces-minScore-one", mp(face_detection({"minScore": 1}), image=JPEG), no_backend),
    ("ocr", mp(OCR, image=JPEG), no_backend),
    ("ocr-scoreMode", mp(ocr_detection({"scoreMode": "slow"}), image=JPEG), no_backend),
    ("options-null", mp(clip_visual_opts(None), image=JPEG), reaches("clip.visual")),
    ("unknown-option-ignored", mp(clip_visual_opts({"foo": "bar"}), image=JPEG), reaches("clip.visual")),
    ("entries-nested-32", mp(nested_entries(32), image=JPEG), reaches("clip.visual")),
    ("entries-with-whitespace", mp("  \n" + json.dumps(CLIP_VISUAL, indent=2) + "\n ", image=JPEG),
     reaches("clip.visual")),
    ("image-content-type-ignored",
     raw_parts(Part("entries", json.dumps(CLIP_VISUAL)), Part("image", JPEG, "cake.txt", "text/plain")),
     reaches("clip.visual")),
    ("image-part-first",
     raw_parts(Part("image", JPEG, "blob"), Part("entries", json.dumps(CLIP_VISUAL))), reaches("clip.visual")),
    ("unknown-extra-part-ignored", mp(CLIP_VISUAL, image=JPEG, extra=[Part("foo", "bar")]),
     reaches("clip.visual")),
    ("urlencoded-text", urlenc(entries=CLIP_TEXTUAL, text=TEXT), reaches("clip.textual")),
    ("content-type-extra-parameter", with_content_type("multipart/form-data; charset=utf-8; boundary={b}"),
     reaches("clip.textual")),
    pytest.param(
        "content-type-mixed-case", with_content_type("Multipart/Form-Data; boundary={b}"),
        reaches("clip.textual"), id="content-type-mixed-case"),
    ("content-type-quoted-boundary", with_content_type('multipart/form-data; boundary="{b}"'),
     reaches("clip.textual")),
]


@pytest.mark.parametrize("name,spec,predicate", VALID, ids=_ids(VALID))
def test_valid_request_reaches_backend(port, name, spec, predicate):
    check(spec.send(port), BACKEND_STATUSES, predicate)
