# SPDX-License-Identifier: AGPL-3.0-or-later
"""What the web UI needs from `focal serve`: the timeline (month buckets and their assets), search suggestions,
ML health, and the UI's static files from FOCAL_WEB_DIR, against a real server with a few imported photos."""

from __future__ import annotations

import http.client
import shutil

import pytest

from harness import HOST, ApiClient, free_port, login

ADMIN = {"email": "admin@example.com", "password": "web ui password 1", "name": "Admin"}
BOB = {"email": "bob@example.com", "password": "bob password 12", "name": "Bob"}
PHOTOS = ["camera-Canon_40D.jpg", "camera-Nikon_D70.jpg", "pet-cat-tabby.jpg", "scene-aurora.jpg", "food-cake.jpg"]
INDEX = "<!doctype html><title>focal web ui</title>"


@pytest.fixture(scope="module")
def server(stack, testdata, tmp_path_factory):
    folder = tmp_path_factory.mktemp("web-ui-photos")
    for name in PHOTOS:
        shutil.copy(testdata / "photos" / name, folder / name)
    web = tmp_path_factory.mktemp("web-dist")
    (web / "index.html").write_text(INDEX)
    (web / "assets").mkdir()
    (web / "assets" / "index-1a2b3c.js").write_text("console.log('focal')")
    ml_port = free_port()
    ml = stack.start_ml(ml_port, "ml-web-ui")
    env = stack.focal_env(stack.workdir / "data-web-ui", ml_port, {"FOCAL_WEB_DIR": str(web)})
    serve, port = stack.start_serve(env, "serve-web-ui")
    api = ApiClient(port)
    assert api.post("/api/auth/admin-sign-up", ADMIN, auth=False).status == 201
    api = login(port, ADMIN)
    library = api.post("/api/libraries", {"importPath": str(folder)})
    assert library.status == 201, library.body
    scan = api.post(f"/api/libraries/{library.json()['id']}/scan")
    assert scan.status == 200 and scan.json()["imported"] == len(PHOTOS), scan.body
    api.wait_idle(timeout=120)
    assert api.post("/api/admin/users", BOB).status == 201
    yield {"api": api, "bob": login(port, BOB), "port": port, "ml_port": ml_port, "serve": serve}
    serve_rc = serve.stop()
    ml.stop()
    assert serve_rc == 0, f"focal serve exited {serve_rc}:\n{serve.log_tail()}"


def all_assets(api: ApiClient) -> list[dict]:
    page = api.get("/api/assets?size=1000").json()
    assert page["nextAfter"] is None
    return page["items"]


def test_timeline_buckets_add_up_and_list_their_month(server):
    api = server["api"]
    assets = {a["id"]: a for a in all_assets(api)}
    assert len(assets) == len(PHOTOS)
    buckets = api.get("/api/timeline/buckets").json()
    assert sum(b["count"] for b in buckets) == len(assets), buckets
    months = [b["timeBucket"] for b in buckets]
    assert months == sorted(months, reverse=True) and len(set(months)) == len(months), months
    seen = set()
    for bucket in buckets:
        assert bucket["timeBucket"].endswith("-01T00:00:00.000Z"), bucket
        reply = api.get(f"/api/timeline/bucket?timeBucket={bucket['timeBucket']}").json()
        assert reply["timeBucket"] == bucket["timeBucket"]
        items = reply["assets"]
        assert len(items) == bucket["count"], (bucket, items)
        assert [(a["fileCreatedAt"], a["id"]) for a in items] == sorted(
            ((a["fileCreatedAt"], a["id"]) for a in items), reverse=True)
        for item in items:
            full = assets[item["id"]]
            assert item["fileCreatedAt"][:7] == bucket["timeBucket"][:7], (item, bucket)
            for key in ("fileCreatedAt", "width", "height", "originalFileName", "type", "isFavorite"):
                assert item[key] == full[key], (key, item, full)
            seen.add(item["id"])
    assert seen == set(assets)
    # A date inside the month answers the whole month; nothing in a month without photos.
    first = buckets[0]["timeBucket"]
    mid = api.get(f"/api/timeline/bucket?timeBucket={first[:8]}15").json()
    assert mid["timeBucket"] == first and len(mid["assets"]) == buckets[0]["count"]
    assert api.get("/api/timeline/bucket?timeBucket=1901-02-01T00:00:00.000Z").json()["assets"] == []
    for bad in ("", "?timeBucket=", "?timeBucket=May%202024", "?timeBucket=2024-13-01"):
        assert api.get(f"/api/timeline/bucket{bad}").status == 400, bad
    # Archived and locked photos leave the timeline (as in Immich); back on it, they return.
    some = sorted(assets)[:2]
    for asset_id, visibility in zip(some, ("archive", "locked")):
        assert api.put(f"/api/assets/{asset_id}", {"visibility": visibility}).status == 200
    shown = api.get("/api/timeline/buckets").json()
    assert sum(b["count"] for b in shown) == len(assets) - 2, shown
    for asset_id in some:
        assert api.put(f"/api/assets/{asset_id}", {"visibility": "timeline"}).status == 200
    assert api.get("/api/timeline/buckets").json() == buckets
    # Another user's timeline is their own (empty).
    assert server["bob"].get("/api/timeline/buckets").json() == []
    assert server["bob"].get(f"/api/timeline/bucket?timeBucket={first}").json()["assets"] == []


def test_search_suggestions_are_the_callers_camera_values(server):
    api = server["api"]
    exif = [api.get(f"/api/assets/{a['id']}").json().get("exifInfo") or {} for a in all_assets(api)]
    makes = sorted({e["make"] for e in exif if e.get("make")})
    assert "Canon" in makes, makes
    assert api.get("/api/search/suggestions?type=camera-make").json() == makes
    models = sorted({e["model"] for e in exif if e.get("model")})
    assert api.get("/api/search/suggestions?type=camera-model").json() == models
    canon = sorted({e["model"] for e in exif if e.get("make") == "Canon" and e.get("model")})
    assert canon and api.get("/api/search/suggestions?type=camera-model&make=Canon").json() == canon
    assert api.get("/api/search/suggestions?type=camera-model&make=Nobody").json() == []
    for bad in ("", "?type=lens-model", "?type=CAMERA-MAKE"):
        assert api.get(f"/api/search/suggestions{bad}").status == 400, bad
    assert server["bob"].get("/api/search/suggestions?type=camera-make").json() == []


def test_ml_health_follows_the_live_config(server):
    api, live = server["api"], f"http://{HOST}:{server['ml_port']}"
    health = api.get("/api/server/ml-health?refresh=true").json()
    assert health["balance"] == "fallback"
    assert [(u["url"], u["healthy"]) for u in health["urls"]] == [(live, True)]
    # The fixture's import ran smart search and faces through this node: counted, none failed.
    node = health["urls"][0]
    assert node["requests"] > 0 and node["failures"] == 0 and node["outstanding"] == 0, node
    assert node["latencyMs"] and all(ms > 0 for ms in node["latencyMs"].values()), node
    assert api.get("/api/server/ml-health").json()["urls"][0]["url"] == live
    assert api.get("/api/server/ml-health?refresh=maybe").status == 400
    assert server["bob"].get("/api/server/ml-health").status == 403

    config = api.get("/api/system-config").json()
    dead = f"http://{HOST}:{free_port()}"
    config["machineLearning"]["urls"] = [live, dead]
    assert api.put("/api/system-config", config).status == 200
    try:
        health = api.get("/api/server/ml-health?refresh=true").json()
        assert [(u["url"], u["healthy"]) for u in health["urls"]] == [(live, True), (dead, False)], health
    finally:
        config["machineLearning"]["urls"] = [live]
        assert api.put("/api/system-config", config).status == 200
    assert [(u["url"], u["healthy"]) for u in api.get("/api/server/ml-health").json()["urls"]] == [(live, True)]


def raw(port: int, method: str, path: str, headers: dict | None = None):
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    conn.request(method, path, headers=headers or {})
    res = conn.getresponse()
    out = (res.status, {k.lower(): v for k, v in res.getheaders()}, res.read())
    conn.close()
    return out


def test_web_dir_is_served_outside_the_api(server):
    port = server["port"]
    for path in ("/", "/people/1", "/search"):
        status, headers, body = raw(port, "GET", path)
        assert status == 200, (path, body)
        assert body.decode() == INDEX
        assert headers["content-type"].startswith("text/html")
        assert headers["cache-control"] == "no-cache"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
    status, headers, body = raw(port, "GET", "/assets/index-1a2b3c.js")
    assert status == 200 and body == b"console.log('focal')"
    assert headers["content-type"].startswith("text/javascript")
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    etag = raw(port, "HEAD", "/")[1]["etag"]
    assert raw(port, "GET", "/", {"If-None-Match": etag})[0] == 304
    status, headers, body = raw(port, "HEAD", "/people/1")
    assert status == 200 and body == b"" and int(headers["content-length"]) == len(INDEX)
    for path in ("/assets/missing-000.js", "/%2e%2e/%2e%2e/etc/passwd", "/api/nothing"):
        status, headers, body = raw(port, "GET", path)
        assert status == 404 and headers["content-type"] == "application/json", (path, body)
    # The API is still the API.
    assert ApiClient(port).get("/api/server/ping", auth=False).json() == {"res": "pong"}
