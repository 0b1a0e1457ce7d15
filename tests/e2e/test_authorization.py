# SPDX-License-Identifier: AGPL-3.0-or-later
"""Authorization matrix: every REST route × {owner, other user, admin, anonymous, API key with and without the
route's permission} against a real `focal serve`, with the expected status of each.

The owner is a non-admin user ("alice") with an uploaded asset, a person, a face and a duplicate group; "bob"
is another non-admin user; the admin is the instance's first admin and is NOT the owner, so the admin must not
see alice's data either (only administrative routes reach other users). After the actors that must fail, the
owner's data is checked to be intact (a 204 that silently changed someone else's data is caught), and list
routes are checked not to leak the owner's ids. The table must cover exactly the routes `focal routes` prints.
"""

from __future__ import annotations

import datetime
import io
import json
import random
import uuid

import pytest
from PIL import Image

from harness import ApiClient, db_rows, free_port, login, wait_until

ADMIN = {"email": "admin@example.com", "password": "admin password 1", "name": "Admin"}
ALICE = {"email": "alice@example.com", "password": "alice password 1", "name": "Alice"}
BOB = {"email": "bob@example.com", "password": "bob password 12", "name": "Bob"}

THIS_MONTH = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-01T00:00:00.000Z")
ACTORS = ["anonymous", "other", "admin", "key_without", "key_with", "owner"]
ANY = None  # any status below 500 (public routes whose answer depends on the body)

# Expected statuses. `user` rows: the owner (and a key with the permission) succeed with `ok`, the other user
# and the admin get `others` (404 for the owner's ids, `ok` for listings scoped to the caller), the key
# without the permission 403, anonymous 401. `admin` rows: only the admin (and an admin key with the
# permission) succeed; the owner and the other user get 403. `public` rows: `ok` for every actor.
# `fresh`: destructive; the succeeding actors each get resources of their own.
# `leak`: the response of the other user and the admin must not mention the owner's resource of that name.
ROUTES = [
    # auth
    {"kind": "public", "method": "POST", "path": "/api/auth/admin-sign-up",
     "body": {"email": "x@example.com", "password": "whatever 123", "name": "X"}, "ok": 400},
    {"kind": "public", "method": "POST", "path": "/api/auth/login",
     "body": {"email": ALICE["email"], "password": ALICE["password"]}, "ok": 201},
    {"kind": "public", "method": "POST", "path": "/api/auth/logout", "ok": 200, "session": "throwaway"},
    {"kind": "user", "method": "POST", "path": "/api/auth/validateToken", "ok": 200, "others": 200},
    {"kind": "user", "method": "GET", "path": "/api/users/me", "ok": 200, "others": 200},
    {"kind": "admin", "method": "GET", "path": "/api/admin/users", "ok": 200},
    {"kind": "admin", "method": "POST", "path": "/api/admin/users", "ok": 201, "body": "{new_user}"},
    {"kind": "user", "method": "POST", "path": "/api/api-keys", "ok": 201, "others": 201, "body": {"name": "k"}},
    {"kind": "user", "method": "GET", "path": "/api/api-keys", "ok": 200, "others": 200, "leak": "key"},
    {"kind": "user", "method": "DELETE", "path": "/api/api-keys/{key}", "pattern": "/api/api-keys/:id", "ok": 204,
     "others": 404, "fresh": True},
    # server
    {"kind": "public", "method": "GET", "path": "/api/server/ping", "ok": 200},
    {"kind": "public", "method": "GET", "path": "/api/server/version", "ok": 200},
    {"kind": "public", "method": "GET", "path": "/api/server/features", "ok": 200},
    {"kind": "public", "method": "GET", "path": "/api/server/config", "ok": 200},
    {"kind": "user", "method": "GET", "path": "/api/server/about", "ok": 200, "others": 200},
    {"kind": "admin", "method": "GET", "path": "/api/system-config", "ok": 200},
    {"kind": "admin", "method": "GET", "path": "/api/system-config/defaults", "ok": 200},
    {"kind": "admin", "method": "PUT", "path": "/api/system-config", "ok": 200, "body": "{config}"},
    {"kind": "admin", "method": "GET", "path": "/api/server/ml-health", "ok": 200},
    {"kind": "admin", "method": "GET", "path": "/metrics", "ok": 200},
    # jobs (administrative)
    {"kind": "admin", "method": "GET", "path": "/api/queues", "ok": 200},
    {"kind": "admin", "method": "GET", "path": "/api/queues/smartSearch", "pattern": "/api/queues/:name", "ok": 200},
    {"kind": "admin", "method": "PUT", "path": "/api/queues/smartSearch", "pattern": "/api/queues/:name",
     "body": {"isPaused": False}, "ok": 200},
    {"kind": "admin", "method": "DELETE", "path": "/api/queues/smartSearch/jobs",
     "pattern": "/api/queues/:name/jobs", "body": {"failed": True}, "ok": 204},
    {"kind": "admin", "method": "GET", "path": "/api/queues/smartSearch/jobs",
     "pattern": "/api/queues/:name/jobs", "ok": 200},
    {"kind": "admin", "method": "GET", "path": "/api/jobs", "ok": 200},
    {"kind": "admin", "method": "PUT", "path": "/api/jobs/smartSearch", "pattern": "/api/jobs/:name",
     "body": {"command": "resume"}, "ok": 200},
    {"kind": "admin", "method": "POST", "path": "/api/jobs", "body": {"name": "person-cleanup"}, "ok": 204},
    # libraries (administrative)
    {"kind": "admin", "method": "GET", "path": "/api/libraries", "ok": 200},
    {"kind": "admin", "method": "POST", "path": "/api/libraries", "body": "{new_library}", "ok": 201},
    {"kind": "admin", "method": "DELETE", "path": "/api/libraries/{library}", "pattern": "/api/libraries/:id",
     "ok": 204, "fresh": True},
    {"kind": "admin", "method": "POST", "path": "/api/libraries/{library}/scan",
     "pattern": "/api/libraries/:id/scan", "ok": 200},
    # assets
    {"kind": "user", "method": "GET", "path": "/api/assets", "ok": 200, "others": 200, "leak": "asset"},
    {"kind": "user", "method": "GET", "path": "/api/assets/statistics", "ok": 200, "others": 200},
    {"kind": "user", "method": "GET", "path": "/api/assets/{asset}", "pattern": "/api/assets/:id", "ok": 200,
     "others": 404},
    {"kind": "user", "method": "GET", "path": "/api/assets/{asset}/thumbnail", "pattern": "/api/assets/:id/thumbnail",
     "ok": 200, "others": 404},
    {"kind": "user", "method": "GET", "path": "/api/assets/{asset}/original", "pattern": "/api/assets/:id/original",
     "ok": 200, "others": 404},
    {"kind": "user", "method": "POST", "path": "/api/assets", "upload": True, "ok": (200, 201), "others": 201},
    {"kind": "user", "method": "DELETE", "path": "/api/assets", "body": {"ids": ["{asset}"]}, "ok": 204,
     "others": 404, "fresh": True},
    {"kind": "user", "method": "PUT", "path": "/api/assets/{asset}", "pattern": "/api/assets/:id",
     "body": {"isFavorite": True}, "ok": 200, "others": 404},
    # timeline (the owner's asset was uploaded this month)
    {"kind": "user", "method": "GET", "path": "/api/timeline/buckets", "ok": 200, "others": 200},
    {"kind": "user", "method": "GET", "path": f"/api/timeline/bucket?timeBucket={THIS_MONTH}",
     "pattern": "/api/timeline/bucket", "ok": 200, "others": 200, "leak": "asset"},
    # search
    {"kind": "user", "method": "GET", "path": "/api/search/suggestions?type=camera-make",
     "pattern": "/api/search/suggestions", "ok": 200, "others": 200},
    {"kind": "user", "method": "POST", "path": "/api/search/smart", "body": {"query": "a photo"}, "ok": 200,
     "others": 200, "leak": "asset"},
    {"kind": "user", "method": "POST", "path": "/api/search/metadata", "body": {"query": "{asset_name}"},
     "ok": 200, "others": 200, "leak": "asset"},
    {"kind": "user", "method": "GET", "path": "/api/search/person?name=Alice", "pattern": "/api/search/person",
     "ok": 200, "others": 200, "leak": "person"},
    # people
    {"kind": "user", "method": "GET", "path": "/api/people?minimumFaces=1&withHidden=true", "pattern": "/api/people",
     "ok": 200, "others": 200, "leak": "person"},
    {"kind": "user", "method": "POST", "path": "/api/people", "body": {"name": "New"}, "ok": 201, "others": 201},
    {"kind": "user", "method": "DELETE", "path": "/api/people", "body": {"ids": ["{person}"]}, "ok": 204,
     "others": 404, "fresh": True},
    {"kind": "user", "method": "GET", "path": "/api/people/{person}", "pattern": "/api/people/:id", "ok": 200,
     "others": 404},
    {"kind": "user", "method": "PUT", "path": "/api/people/{person}", "pattern": "/api/people/:id",
     "body": {"name": "Alice Renamed"}, "ok": 200, "others": 404},
    {"kind": "user", "method": "PATCH", "path": "/api/people/{person}", "pattern": "/api/people/:id",
     "body": {"isFavorite": True}, "ok": 200, "others": 404},
    {"kind": "user", "method": "DELETE", "path": "/api/people/{person}", "pattern": "/api/people/:id", "ok": 204,
     "others": 404, "fresh": True},
    {"kind": "user", "method": "GET", "path": "/api/people/{person}/statistics",
     "pattern": "/api/people/:id/statistics", "ok": 200, "others": 404},
    {"kind": "user", "method": "GET", "path": "/api/people/{person}/thumbnail",
     "pattern": "/api/people/:id/thumbnail", "ok": 200, "others": 404},
    {"kind": "user", "method": "PUT", "path": "/api/people/{person}/reassign", "pattern": "/api/people/:id/reassign",
     "body": {"data": [{"personId": "{person2}", "assetId": "{asset}"}]}, "ok": 200, "others": 404, "fresh": True},
    {"kind": "user", "method": "POST", "path": "/api/people/{person}/merge", "pattern": "/api/people/:id/merge",
     "body": {"ids": ["{person2}"]}, "ok": 200, "others": 404, "fresh": True},
    {"kind": "user", "method": "GET", "path": "/api/faces?id={asset}", "pattern": "/api/faces", "ok": 200,
     "others": 404},
    {"kind": "user", "method": "GET", "path": "/api/faces/unassigned", "ok": 200, "others": 200, "leak": "face2"},
    {"kind": "user", "method": "PUT", "path": "/api/faces/{person}", "pattern": "/api/faces/:personId",
     "body": {"id": "{face2}"}, "ok": 200, "others": 404, "fresh": True},
    {"kind": "user", "method": "POST", "path": "/api/faces/{face2}/person", "pattern": "/api/faces/:id/person",
     "ok": 201, "others": 404, "fresh": True},
    {"kind": "user", "method": "DELETE", "path": "/api/faces/{face2}", "pattern": "/api/faces/:id",
     "ok": 204, "others": 404, "fresh": True},
    # duplicates
    {"kind": "user", "method": "GET", "path": "/api/duplicates", "ok": 200, "others": 200, "leak": "dup"},
    {"kind": "user", "method": "DELETE", "path": "/api/duplicates/{dup}", "pattern": "/api/duplicates/:id",
     "ok": 204, "others": 404, "fresh": True},
    {"kind": "user", "method": "DELETE", "path": "/api/duplicates", "body": {"ids": ["{dup}"]}, "ok": 204,
     "others": 204, "fresh": True},
    {"kind": "user", "method": "POST", "path": "/api/duplicates/resolve",
     "body": {"groups": [{"duplicateId": "{dup}", "keepAssetIds": ["{asset}"], "trashAssetIds": ["{asset2}"]}]},
     "ok": 200, "others": 200, "fresh": True},
]


def unique_jpeg() -> bytes:
    """A small JPEG nobody uploaded before (so each upload is a new asset)."""
    image = Image.new("RGB", (64, 48), tuple(random.randrange(256) for _ in range(3)))
    image.putpixel((random.randrange(64), random.randrange(48)), (1, 2, 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


class World:
    """The running server, its users, and factories for the owner's resources."""

    def __init__(self, stack, tmp_path):
        self.stack = stack
        self.ml_port = free_port()
        self.ml = stack.start_ml(self.ml_port, "ml-authz")
        self.data_dir = tmp_path / "data-authz"
        self.env = stack.focal_env(self.data_dir, self.ml_port)
        # Background ML jobs must not rearrange the hand-made faces and duplicate groups under the test.
        for key in ("machineLearning.duplicateDetection.enabled", "machineLearning.facialRecognition.enabled"):
            stack.cli(self.env, "config", "set", key, "false")
        self.serve, self.port = stack.start_serve(self.env, "serve-authz")
        anonymous = ApiClient(self.port)
        assert anonymous.post("/api/auth/admin-sign-up", ADMIN, auth=False).status == 201
        self.admin = login(self.port, ADMIN)
        for user in (ALICE, BOB):
            assert self.admin.post("/api/admin/users", user).status == 201
        self.alice = login(self.port, ALICE)
        self.bob = login(self.port, BOB)
        self.alice_id = self.alice.get("/api/users/me").json()["id"]
        self.folder = tmp_path / "library-folder"
        self.folder.mkdir()
        self.keys = {}  # (user, permission) -> secret

    def key(self, api: ApiClient, permission: str) -> str:
        slot = (id(api), permission)
        if slot not in self.keys:
            reply = api.post("/api/api-keys", {"name": permission, "permissions": [permission]})
            assert reply.status == 201, reply.body
            self.keys[slot] = reply.json()["secret"]
        return self.keys[slot]

    def db(self, sql: str, params=()) -> None:
        import sqlite3
        conn = sqlite3.connect(self.data_dir / "focal.db", timeout=10)
        try:
            conn.execute(sql, params)
            conn.commit()
        finally:
            conn.close()

    def resources(self, row: dict) -> dict:
        """A fresh set of alice's things: two assets, two people with one face each, a second face without a
        person, a duplicate group of the two assets, an API key, a library. Thumbnails are waited for only when
        the row reads them."""
        r = {}
        names = []
        for slot in ("asset", "asset2"):
            name = f"authz-{uuid.uuid4().hex[:12]}.jpg"
            reply = self.alice.upload(name, unique_jpeg())
            assert reply.status == 201, reply.body
            r[slot] = reply.json()["id"]
            names.append(name)
        r["asset_name"] = names[0].removesuffix(".jpg")
        for slot, asset in (("face", r["asset"]), ("face2", r["asset"]), ("face3", r["asset2"])):
            self.db("INSERT INTO asset_face (asset_id, image_width, image_height, x1, y1, x2, y2, source_type, "
                    "created_at, updated_at) VALUES (?, 64, 48, 4, 4, 30, 30, 'manual', 0, 0)", (asset,))
            r[slot] = db_rows(self.data_dir, "SELECT max(id) FROM asset_face")[0][0]
        # A person per face (created with it, so a person cleanup never finds it empty); face2 stays unassigned.
        for face, person in (("face", "person"), ("face3", "person2")):
            reply = self.alice.post(f"/api/faces/{r[face]}/person")
            assert reply.status == 201, reply.body
            r[person] = reply.json()["id"]
            assert self.alice.put(f"/api/people/{r[person]}", {"name": "Alice " + person}).status == 200
        if "thumbnail" in row["path"]:
            wait_until(lambda: all(db_rows(self.data_dir, "SELECT 1 FROM asset_file WHERE asset_id = ? AND type "
                                                          "= 'thumbnail'", (a,)) for a in (r["asset"], r["asset2"])),
                       90, "thumbnails of the owner's assets")
            wait_until(lambda: self.alice.get(f"/api/people/{r['person']}/thumbnail", validate=False).status == 200,
                       90, "the person thumbnail")
        self.db("INSERT INTO duplicate_group_seq DEFAULT VALUES")
        r["dup"] = db_rows(self.data_dir, "SELECT max(id) FROM duplicate_group_seq")[0][0]
        for asset in (r["asset"], r["asset2"]):
            self.db("INSERT INTO asset_duplicate (asset_id, duplicate_id) VALUES (?, ?)", (asset, r["dup"]))
        reply = self.alice.post("/api/api-keys", {"name": "alice-spare"})
        r["key"] = reply.json()["apiKey"]["id"]
        sub = self.folder / uuid.uuid4().hex[:8]
        sub.mkdir()
        reply = self.admin.post("/api/libraries", {"importPath": str(sub), "ownerId": self.alice_id})
        assert reply.status == 201, reply.body
        r["library"] = reply.json()["id"]
        r["new_library"] = {"importPath": str(sub), "ownerId": self.alice_id}
        return r

    def intact(self, r: dict) -> list[str]:
        """What of `r` the owner can no longer see as it was (empty: all intact)."""
        lost = []
        asset = self.alice.get(f"/api/assets/{r['asset']}", validate=False)
        if asset.status != 200 or asset.json()["isTrashed"] or asset.json()["isFavorite"]:
            lost.append("asset")
        second = self.alice.get(f"/api/assets/{r['asset2']}", validate=False)
        if second.status != 200 or second.json()["isTrashed"]:
            lost.append("asset2")
        person = self.alice.get(f"/api/people/{r['person']}", validate=False)
        if person.status != 200 or person.json()["name"] != "Alice person" or person.json()["isFavorite"]:
            lost.append("person")
        if self.alice.get(f"/api/people/{r['person2']}", validate=False).status != 200:
            lost.append("person2")
        groups = self.alice.get("/api/duplicates", validate=False).json()
        if r["dup"] not in [g["duplicateId"] for g in groups]:
            lost.append("dup")
        faces = self.alice.get(f"/api/faces?id={r['asset']}", validate=False).json()
        by_id = {f["id"]: f for f in faces}
        if r["face2"] not in by_id or by_id[r["face2"]]["person"] is not None:
            lost.append("face2")
        keys = [k["id"] for k in self.alice.get("/api/api-keys", validate=False).json()]
        if r["key"] not in keys:
            lost.append("key")
        libraries = [lib["id"] for lib in self.admin.get("/api/libraries", validate=False).json()]
        if r["library"] not in libraries:
            lost.append("library")
        return lost


@pytest.fixture(scope="module")
def world(stack, tmp_path_factory):
    w = World(stack, tmp_path_factory.mktemp("authz"))
    yield w
    assert w.serve.stop() == 0, w.serve.log_tail()
    w.ml.stop()


def fill(value, r: dict, world: World):
    """Replaces {name} placeholders (whole strings become ids) in a path or body."""
    if isinstance(value, str):
        if value == "{new_user}":
            return {"email": f"u{uuid.uuid4().hex[:8]}@example.com", "password": "a password 123", "name": "U"}
        if value == "{config}":
            return world.admin.get("/api/system-config", validate=False).json()
        if value == "{new_library}":
            return r["new_library"]
        if value.startswith("{") and value.endswith("}") and value[1:-1] in r:
            return r[value[1:-1]]
        for name, replacement in r.items():
            value = value.replace("{" + name + "}", str(replacement))
        return value
    if isinstance(value, list):
        return [fill(v, r, world) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, r, world) for k, v in value.items()}
    return value


def client_for(actor: str, row: dict, world: World) -> ApiClient:
    success_user = world.admin if row["kind"] == "admin" else world.alice
    if actor == "anonymous":
        return ApiClient(world.port)
    if actor == "owner":
        return world.admin if row["kind"] == "admin" else world.alice
    if actor == "other":
        return world.bob
    if actor == "admin":
        return world.admin if row["kind"] != "admin" else world.alice  # for admin rows: a non-admin owner
    permission = row["permission"] or "server.about"  # public routes: any key
    if actor == "key_with":
        secret = world.key(success_user, permission)
    else:
        secret = world.key(success_user, "server.about" if permission != "server.about" else "user.read")
    api = ApiClient(world.port)
    api.token = None
    api.key = secret
    return api


def expected(actor: str, row: dict):
    kind = row["kind"]
    if kind == "public":
        return row["ok"]
    if actor == "anonymous":
        return 401
    if actor == "key_without":
        return 403
    if actor in ("owner", "key_with"):
        return row["ok"]
    if kind == "admin":
        return 403  # the other user and a non-admin (see client_for)
    return row["others"]


def send(api: ApiClient, row: dict, r: dict, world: World):
    headers = {"x-api-key": api.key} if getattr(api, "key", None) else {}
    if row.get("session") == "throwaway" and not headers and api.token:
        api = login(world.port, ALICE)  # logging out must not end the suite's own session
    path = fill(row["path"], r, world)
    if row.get("upload"):
        if headers:
            api.token = None
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"assetData\"; filename=\"up.jpg\"\r\n"
                "Content-Type: image/jpeg\r\n\r\n").encode() + r["upload_bytes"] + f"\r\n--{boundary}--\r\n".encode()
        return api.request("POST", path, raw=body, content_type=f"multipart/form-data; boundary={boundary}",
                           headers=headers, validate=False)
    body = fill(row.get("body"), r, world)
    return api.request(row["method"], path, body=body, headers=headers, validate=False)


def mentions(reply, value) -> bool:
    try:
        text = json.dumps(reply.json())
    except ValueError:
        return False
    return f'"id": {value}' in text or f'"duplicateId": {value}' in text or f"[{value}]" in text or \
        f'"assetIds": [{value}' in text


def pattern_of(row: dict) -> str:
    return row.get("pattern", row["path"].split("?")[0])


@pytest.fixture(scope="module")
def printed_routes(world) -> dict:
    """`focal routes`: (method, pattern) -> {access, permission}; also tells each row its API key permission."""
    printed = {(r["method"], r["path"]): r for r in json.loads(world.stack.cli(world.env, "routes").stdout)}
    for row in ROUTES:
        row["permission"] = printed.get((row["method"], pattern_of(row)), {}).get("permission")
    return printed


def test_table_covers_every_route(printed_routes):
    table = {(row["method"], pattern_of(row)) for row in ROUTES}
    routes = set(printed_routes)
    assert table == routes, {"missing from the table": sorted(routes - table), "not routes": sorted(table - routes)}
    for row in ROUTES:
        route = printed_routes[(row["method"], pattern_of(row))]
        assert (route["access"] == "public") == (row["kind"] == "public"), row
        assert (route["access"] == "admin") == (row["kind"] == "admin"), row
        if row["kind"] != "public":
            assert route["permission"], f"{row['method']} {row['path']} names no API key permission"


@pytest.mark.parametrize("row", ROUTES, ids=[f"{r['method']} {r['path']}" for r in ROUTES])
def test_route(world, printed_routes, row):
    shared = world.resources(row)
    shared["upload_bytes"] = unique_jpeg()
    seen = {}
    for actor in ACTORS:
        r = shared
        if row.get("fresh") and actor in ("owner", "key_with"):
            r = world.resources(row)
        api = client_for(actor, row, world)
        reply = send(api, row, r, world)
        seen[actor] = reply.status
        want = expected(actor, row)
        ok = (reply.status < 500 if want is ANY else
              reply.status in want if isinstance(want, tuple) else reply.status == want)
        assert ok, f"{actor}: expected {want}, got {reply.status} {reply.body[:300]!r} (so far {seen})"
        if actor in ("other", "admin") and row.get("leak") and row["kind"] == "user":
            assert not mentions(reply, shared[row["leak"]]), f"{actor} sees the owner's {row['leak']}: {reply.body[:300]!r}"
        if actor == "key_without":
            # Nobody but the owner (or a key/admin allowed to) has touched the owner's things so far.
            assert world.intact(shared) == [], f"after the failing actors: {world.intact(shared)} changed"
