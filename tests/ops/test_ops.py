# SPDX-License-Identifier: AGPL-3.0-or-later
"""Operations of focal-ml against the real binary: TTL unload/reload under concurrent load, preload pinning,
dynamic batching (identical results), API key, /metrics format, graceful shutdown with a request in flight.

Pass/fail never depends on timing: state changes are observed through /metrics, polled with a generous
deadline, and the batching tests use a queue delay long enough that a batch is always closed by being full.
"""

from __future__ import annotations

import json
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from focal_client import CLIP_TEXTUAL, CLIP_VISUAL, FACES, OCR, multipart, predict, predict_parts, request

DEADLINE_S = 60.0


def metrics(port: int, headers: dict | None = None) -> dict[str, list]:
    """/metrics parsed by prometheus_client's parser (which rejects malformed exposition text):
    {family name: [(sample name, labels, value)]}."""
    r = request(port, "GET", "/metrics", headers=headers)
    assert r.status == 200, r.describe()
    assert r.content_type.startswith("text/plain"), r.content_type
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(r.body.decode()):
        out[family.name] = [(s.name, s.labels, s.value) for s in family.samples]
    return out


def value(m: dict, family: str, sample: str | None = None, **labels) -> float:
    total = 0.0
    for name, sample_labels, v in m.get(family, []):
        if sample is not None and name != sample:
            continue
        if all(sample_labels.get(k) == str(val) for k, val in labels.items()):
            total += v
    return total


def wait_for(port: int, predicate, what: str):
    deadline = time.monotonic() + DEADLINE_S
    last = None
    while time.monotonic() < deadline:
        last = metrics(port)
        if predicate(last):
            return last
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}; last metrics: { {k: v for k, v in (last or {}).items() if 'model' in k} }")


def embed(port: int, image: bytes, **kw) -> str:
    r = predict(port, CLIP_VISUAL, image=image, **kw)
    assert r.status == 200, r.describe()
    return r.json()["clip"]


def concurrently(fn, items, workers: int = 8) -> list:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))


def test_ttl_unloads_in_process_and_reloads_under_concurrent_requests(start_server, jpegs):
    srv = start_server({"MACHINE_LEARNING_MODEL_TTL": "1", "MACHINE_LEARNING_MODEL_TTL_POLL_S": "1"})
    first = concurrently(lambda img: embed(srv.port, img), jpegs * 4)
    assert value(metrics(srv.port), "focal_ml_model_events", event="load") == 1  # one load for 16 requests
    m = wait_for(srv.port, lambda m: value(m, "focal_ml_models_loaded") == 0, "the TTL unload")
    assert value(m, "focal_ml_model_events", event="unload") >= 1
    assert srv.alive()  # unloaded in process: no restart (Immich's worker exits on idle)

    # Requests racing a possible second unload all succeed and give the same embeddings as before.
    second = concurrently(lambda img: embed(srv.port, img), jpegs * 4)
    assert second == first
    m = metrics(srv.port)
    assert value(m, "focal_ml_model_events", event="load") >= 2
    assert value(m, "focal_ml_model_events", event="load_failure") == 0
    assert "Unloading clip.visual model 'ViT-B-32__openai'" in srv.log_tail(100_000)


def test_preloaded_model_is_loaded_at_start_and_never_unloaded(start_server, jpeg):
    srv = start_server({
        "MACHINE_LEARNING_PRELOAD__CLIP__VISUAL": "ViT-B-32__openai",
        "MACHINE_LEARNING_MODEL_TTL": "1",
        "MACHINE_LEARNING_MODEL_TTL_POLL_S": "1",
    })
    m = metrics(srv.port)
    assert value(m, "focal_ml_model_loaded", type="visual", model="ViT-B-32__openai", pinned="true") == 1
    # An unpinned model next to it loads on use and goes after the TTL; the preloaded one stays.
    assert predict(srv.port, CLIP_TEXTUAL, text="a dog").status == 200
    m = wait_for(srv.port, lambda m: value(m, "focal_ml_model_events", event="unload") >= 1, "the textual unload")
    assert value(m, "focal_ml_model_loaded", type="textual") == 0
    assert value(m, "focal_ml_model_loaded", type="visual", pinned="true") == 1
    before = value(m, "focal_ml_model_events", event="load")
    embed(srv.port, jpeg)
    assert value(metrics(srv.port), "focal_ml_model_events", event="load") == before  # served without a load


def test_failed_load_does_not_stick(start_server, tmp_path, models_dir, jpeg):
    import shutil

    cache = tmp_path / "cache"
    shutil.copytree(models_dir / "clip/ViT-B-32__openai", cache / "clip/ViT-B-32__openai")
    model = cache / "clip/ViT-B-32__openai/visual/model.onnx"
    good = model.read_bytes()
    model.write_bytes(b"not an onnx graph")
    srv = start_server({"MACHINE_LEARNING_CACHE_FOLDER": str(cache)})
    r = predict(srv.port, CLIP_VISUAL, image=jpeg)
    assert r.status == 500, r.describe()
    model.write_bytes(good)
    # Retried once the backoff (1 s after the first failure) is over; Immich answers 500 until restart.
    deadline = time.monotonic() + DEADLINE_S
    while (r := predict(srv.port, CLIP_VISUAL, image=jpeg)).status != 200 and time.monotonic() < deadline:
        assert r.status == 500, r.describe()
        time.sleep(0.2)
    assert r.status == 200, r.describe()
    assert value(metrics(srv.port), "focal_ml_model_events", event="load_failure") == 1


@pytest.mark.parametrize("entries,field", [(CLIP_VISUAL, "image"), (FACES, "image"), (CLIP_TEXTUAL, "text")],
                         ids=["clip-visual", "faces", "clip-textual"])
def test_dynamic_batching_gives_identical_results(start_server, jpegs, entries, field):
    # The delay is far longer than the test: each batch closes because it is full (4 callers), never on time.
    batch_env = {f"FOCAL_ML_BATCH__{name}": "4,30000000" for name in
                 ("CLIP__VISUAL", "CLIP__TEXTUAL", "FACIAL_RECOGNITION__RECOGNITION")}
    plain = start_server(name="plain")
    batched = start_server(batch_env, name="batched")
    inputs = jpegs if field == "image" else ["a dog", "ein Hund am Strand", "sunset over the ocean", "🙂"]

    def ask(port, item):
        r = predict(port, entries, **{field: item})
        assert r.status == 200, r.describe()
        return r.body

    expected = [ask(plain.port, item) for item in inputs]
    got = concurrently(lambda item: ask(batched.port, item), inputs, workers=4)
    assert got == expected  # byte-identical responses
    m = metrics(batched.port)
    if entries is not FACES:  # faces: recognition rows depend on the faces found, possibly none
        assert value(m, "focal_ml_batched_calls", sample="focal_ml_batched_calls_total") == 4
        assert value(m, "focal_ml_batch_rows", sample="focal_ml_batch_rows_count") == 1


def text_jpeg() -> bytes:
    """A photo-sized image with printed words, so that the OCR part of a request has lines to return."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (640, 480), (235, 235, 225))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=48)
    for i, line in enumerate(["Harbour Street 12", "OPEN DAILY", "focal 2026"]):
        draw.text((40, 60 + 120 * i), line, fill=(20, 20, 30), font=font)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92)
    return out.getvalue()


def test_ocr_alongside_clip_and_faces_in_one_request(start_server):
    """Immich sends one request per job, but a client may ask for every task at once: each part of the
    combined answer is what the task gives on its own."""
    srv = start_server(name="all-tasks")
    image = text_jpeg()
    separate = {}
    for entries in (CLIP_VISUAL, FACES, OCR):
        r = predict(srv.port, entries, image=image)
        assert r.status == 200, r.describe()
        separate.update(r.json())
    assert separate["ocr"]["text"], "the generated PP-OCR networks read nothing: the check would be empty"
    r = predict(srv.port, {**CLIP_VISUAL, **FACES, **OCR}, image=image)
    assert r.status == 200, r.describe()
    assert r.json() == separate


@pytest.mark.parametrize("env", [
    {"FOCAL_ML_ORT_SHARED_THREADS": "false", "FOCAL_ML_ORT_SPINNING": "true"},
    {"FOCAL_ML_ORT_SPINNING": "true", "MACHINE_LEARNING_MODEL_INTER_OP_THREADS": "2"},
    {"FOCAL_ML_ORT_MEMORY_PATTERN": "false", "FOCAL_ML_ORT_ARENA_SHRINK": "true"},
    {"MACHINE_LEARNING_MODEL_ARENA": "false", "FOCAL_ML_ORT_SHARED_THREADS": "false"},
], ids=["session-pools-spinning", "shared-pools-parallel", "no-memory-pattern-shrink", "no-arena"])
def test_ort_thread_and_memory_settings_give_identical_results(start_server, jpegs, env):
    """The threading and memory knobs change how ORT schedules and allocates, never what a request returns
    (CLIP, faces and OCR, several images so that dynamic shapes vary, concurrently)."""
    default = start_server(name="default")
    tuned = start_server(env, name="tuned")
    cases = [(CLIP_VISUAL, {"image": j}) for j in jpegs] + [(FACES, {"image": j}) for j in jpegs]
    cases += [(OCR, {"image": text_jpeg()}), (CLIP_TEXTUAL, {"text": "a dog on a beach"})]

    def ask(port, case):
        r = predict(port, case[0], **case[1])
        assert r.status == 200, r.describe()
        return r.body

    expected = [ask(default.port, case) for case in cases]
    assert concurrently(lambda case: ask(tuned.port, case), cases, workers=4) == expected


def test_api_key(start_server, jpeg):
    srv = start_server({"FOCAL_ML_API_KEY": "s3cret-key"})
    body, ctype = multipart(predict_parts(CLIP_VISUAL, image=jpeg))

    def post(headers):
        return request(srv.port, "POST", "/predict", body=body, headers={"Content-Type": ctype, **headers})

    assert request(srv.port, "GET", "/ping").body == b"pong"
    assert request(srv.port, "GET", "/").status == 200
    for headers in ({}, {"x-api-key": "wrong"}, {"Authorization": "Bearer s3cret-ke"}, {"Authorization": "s3cret-key"}):
        r = post(headers)
        assert r.status == 401, (headers, r.describe())
        assert "detail" in r.json()
    assert request(srv.port, "GET", "/metrics").status == 401
    assert post({"x-api-key": "s3cret-key"}).status == 200
    assert post({"Authorization": "Bearer s3cret-key"}).status == 200
    assert request(srv.port, "GET", "/metrics", headers={"x-api-key": "s3cret-key"}).status == 200


def test_no_api_key_means_open(start_server, jpeg):
    srv = start_server()
    assert predict(srv.port, CLIP_VISUAL, image=jpeg).status == 200
    assert request(srv.port, "GET", "/metrics").status == 200


def test_metrics_format_and_content(start_server, jpeg):
    srv = start_server()
    assert predict(srv.port, CLIP_VISUAL, image=jpeg).status == 200
    assert predict(srv.port, FACES, image=jpeg).status == 200
    assert predict(srv.port, {"clip": {"visual": {"modelName": "ViT-B-16__openai"}}}, image=jpeg).status == 503
    m = metrics(srv.port)
    assert value(m, "focal_ml_predictions", task="clip", type="visual", model="ViT-B-32__openai") == 1
    assert value(m, "focal_ml_predictions", task="facial-recognition") == 2
    assert value(m, "focal_ml_prediction_errors", model="ViT-B-16__openai", status="503") == 1
    for stage in ("decode", "total"):
        assert value(m, "focal_ml_stage_seconds", sample="focal_ml_stage_seconds_count", stage=stage) == 3
    for stage in ("preprocess", "inference"):
        assert value(m, "focal_ml_stage_seconds", sample="focal_ml_stage_seconds_count", stage=stage,
                     model="buffalo_l") == 2
    # Histogram buckets are cumulative and end at the count.
    buckets = [(s[1]["le"], s[2]) for s in m["focal_ml_stage_seconds"]
               if s[0].endswith("_bucket") and s[1]["stage"] == "total"]
    counts = [c for _, c in buckets]
    assert counts == sorted(counts) and buckets[-1] == ("+Inf", 3.0)
    assert value(m, "focal_ml_models_loaded") == 3
    assert value(m, "focal_ml_http_requests", path="/predict", status="200") == 2
    assert value(m, "focal_ml_requests_in_flight") == 0
    assert value(m, "focal_ml_queue_depth") == 0
    assert value(m, "process_resident_memory_bytes") > 1_000_000


def test_sigterm_finishes_in_flight_inference(start_server, jpeg):
    # A batch of 2 that never fills keeps the single request inside inference for the queue delay (3 s).
    srv = start_server({"FOCAL_ML_BATCH__CLIP__VISUAL": "2,3000000",
                        "MACHINE_LEARNING_PRELOAD__CLIP__VISUAL": "ViT-B-32__openai"})
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(lambda: predict(srv.port, CLIP_VISUAL, image=jpeg, timeout=60))
        wait_for(srv.port, lambda m: value(m, "focal_ml_requests_in_flight") == 1, "the request to be in flight")
        srv.signal(signal.SIGTERM)
        r = pending.result(timeout=DEADLINE_S)
    assert r.status == 200, r.describe()
    assert len(json.loads(r.json()["clip"])) == 512
    assert srv.wait(timeout=DEADLINE_S) == 0


def test_cpu_only_keeps_one_session_per_model_whatever_the_device_list(start_server, jpeg):
    srv = start_server({"MACHINE_LEARNING_DEVICE_IDS": "0,1", "MACHINE_LEARNING_WORKERS": "2"})
    embed(srv.port, jpeg)
    m = metrics(srv.port)
    assert [s[1]["device"] for s in m["focal_ml_model_loaded"]] == ["0"]
    log = srv.log_tail(100_000)
    assert "MACHINE_LEARNING_DEVICE_IDS 0,1 not used" in log
    assert "MACHINE_LEARNING_WORKERS=2" in log
