# SPDX-License-Identifier: AGPL-3.0-or-later
"""focal end to end: focal-ml (generated random-weight models) + `focal serve` + the CLI on temporary data dirs.

Random weights: the checks are about structure, counts, durability and determinism, never semantic quality.
Pass/fail never depends on timing: kills happen at observed points, and every wait is on a condition.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import yaml
from openapi_spec_validator import validate as validate_spec

from conftest import BROKEN_FILES, DUPLICATE_COPY, GOOD_PHOTOS, UPLOAD_PHOTO
from harness import SPEC_PATH, ApiClient, db_rows, free_port, wait_until

ADMIN = {"email": "admin@example.com", "password": "correct horse battery", "name": "Admin"}
QUERY = "dog on a beach"


def test_openapi_document_is_valid():
    validate_spec(yaml.safe_load(SPEC_PATH.read_text()))


def sign_up(api: ApiClient) -> None:
    assert api.post("/api/auth/admin-sign-up", ADMIN, auth=False).status == 201
    login = api.post("/api/auth/login", {"email": ADMIN["email"], "password": ADMIN["password"]}, auth=False)
    assert login.status == 201
    assert "immich_access_token=" in login.headers.get("set-cookie", "")
    api.token = login.json()["accessToken"]


def assert_only_broken_files_failed(queues: dict, data_dir) -> None:
    """A damaged image fails its metadata or thumbnail job (and goes no further), except files whose content
    is no image format at all (they get no job); nothing else fails."""
    failed = {name: stats["failed"] for name, stats in queues.items() if stats["failed"]}
    with_jobs = db_rows(data_dir, "SELECT count(*) FROM asset WHERE status = 'corrupt' AND status_reason NOT LIKE "
                                  "'%not a recognised image format%'")[0][0]
    assert sum(failed.values()) == with_jobs, failed
    assert set(failed) <= {"metadataExtraction", "thumbnailGeneration"}, failed


def results_by_file(data_dir) -> dict:
    """Per original file name: status, whether it has a preview, its embedding bytes and its face count."""
    rows = db_rows(
        data_dir,
        """SELECT a.original_file_name, a.status,
                  (SELECT COUNT(*) FROM asset_file f WHERE f.asset_id = a.id AND f.type = 'preview'),
                  (SELECT embedding FROM smart_search s WHERE s.asset_id = a.id),
                  (SELECT COUNT(*) FROM asset_face f WHERE f.asset_id = a.id AND f.deleted_at IS NULL)
           FROM asset a""",
    )
    # Which of two same-content files becomes the asset depends on the scan order: name it by the original.
    canonical = {DUPLICATE_COPY[1]: DUPLICATE_COPY[0]}
    return {canonical.get(name, name): {"status": status, "preview": preview, "embedding": emb, "faces": faces}
            for name, status, preview, emb, faces in rows}


def check_library(data_dir, expected_good: set[str]) -> dict:
    """Every good photo is ready with a preview and exactly one embedding; broken files are recorded as such."""
    results = results_by_file(data_dir)
    assert set(results) == expected_good | set(BROKEN_FILES), sorted(results)
    for name in expected_good:
        r = results[name]
        assert r["status"] == "ready" and r["preview"] == 1, (name, r["status"], r["preview"])
        assert r["embedding"] is not None and len(r["embedding"]) % 4 == 0 and len(r["embedding"]) > 0, name
    for name in BROKEN_FILES:
        assert results[name]["status"] in ("corrupt", "unsupported"), (name, results[name]["status"])
        assert results[name]["embedding"] is None, name
    # One embedding row per asset (upserts), face embeddings one per face.
    assert db_rows(data_dir, "SELECT COUNT(*) FROM smart_search")[0][0] == len(expected_good)
    faces = db_rows(data_dir, "SELECT COUNT(*) FROM asset_face WHERE deleted_at IS NULL")[0][0]
    face_vectors = db_rows(
        data_dir, "SELECT COUNT(*) FROM face_search s JOIN asset_face f ON f.id = s.face_id WHERE f.deleted_at IS NULL"
    )[0][0]
    assert face_vectors == faces
    return results


@pytest.fixture(scope="module")
def reference(stack, photos):
    """Run A: a normal server run; its per-file results are the reference the crash runs must reproduce."""
    ml_port = free_port()
    ml = stack.start_ml(ml_port, "ml-a")
    data_dir = stack.workdir / "data-a"
    env = stack.focal_env(data_dir, ml_port)
    serve, port = stack.start_serve(env, "serve-a")
    api = ApiClient(port)
    yield {"stack": stack, "ml": ml, "ml_port": ml_port, "serve": serve, "api": api, "env": env,
           "data_dir": data_dir, "photos": photos}
    serve_rc = serve.stop()
    ml.stop()
    assert serve_rc == 0, f"focal serve exited {serve_rc} on SIGTERM:\n{serve.log_tail()}"


def test_api_import_jobs_search(reference, testdata):
    api, data_dir, stack, env = reference["api"], reference["data_dir"], reference["stack"], reference["env"]

    # Public routes answer without credentials; everything else needs them.
    assert api.get("/api/server/ping", auth=False).json() == {"res": "pong"}
    assert api.get("/api/server/features", auth=False).json()["smartSearch"] is True
    assert api.get("/api/server/config", auth=False).json()["isInitialized"] is False
    assert api.get("/api/queues", auth=False).status == 401
    assert api.post("/api/search/smart", {"query": "x"}, auth=False).status == 401
    sign_up(api)
    assert api.get("/api/server/config").json()["isInitialized"] is True
    key = api.post("/api/api-keys", {"name": "e2e"})
    assert key.status == 201
    assert api.get("/api/users/me", headers={"x-api-key": key.json()["secret"]}, auth=False).status == 200

    # Import the folder through the API.
    library = api.post("/api/libraries", {"importPath": str(reference["photos"])})
    assert library.status == 201, library.body
    scan = api.post(f"/api/libraries/{library.json()['id']}/scan")
    assert scan.status == 200, scan.body
    report = scan.json()
    assert report["duplicates"] == 1, report
    assert report["imported"] == len(GOOD_PHOTOS) + len(BROKEN_FILES), report
    assert report["filesSeen"] == len(GOOD_PHOTOS) + len(BROKEN_FILES) + 2, report  # + copy + notes.txt

    queues = api.wait_idle(timeout=120)
    assert_only_broken_files_failed(queues, data_dir)
    assert queues["smartSearch"]["completed"] >= len(GOOD_PHOTOS), queues["smartSearch"]
    assert queues["faceDetection"]["completed"] >= len(GOOD_PHOTOS), queues["faceDetection"]
    assert queues["metadataExtraction"]["completed"] >= len(GOOD_PHOTOS)
    results = check_library(data_dir, set(GOOD_PHOTOS))
    reference["results"] = results

    # Asset listing (cursor paging), details, thumbnails with the right content types.
    listed, after = [], 0
    while True:
        page = api.get(f"/api/assets?size=7&after={after}").json()
        listed += page["items"]
        if page["nextAfter"] is None:
            break
        after = page["nextAfter"]
    assert len(listed) == len(GOOD_PHOTOS) + len(BROKEN_FILES)
    by_name = {a["originalFileName"]: a for a in listed}
    by_name.setdefault(DUPLICATE_COPY[0], by_name.get(DUPLICATE_COPY[1]))
    canon = api.get(f"/api/assets/{by_name['camera-Canon_40D.jpg']['id']}").json()
    assert canon["exifInfo"]["make"] == "Canon"
    thumb = api.get(f"/api/assets/{canon['id']}/thumbnail")
    assert thumb.status == 200 and thumb.headers["content-type"] == "image/webp"
    assert thumb.body[:4] == b"RIFF" and thumb.body[8:12] == b"WEBP"
    preview = api.get(f"/api/assets/{canon['id']}/thumbnail?size=preview")
    assert preview.status == 200 and preview.headers["content-type"] == "image/jpeg"
    assert preview.body[:2] == b"\xff\xd8"
    broken = by_name[BROKEN_FILES[0]]
    assert api.get(f"/api/assets/{broken['id']}/thumbnail").status == 404
    assert api.get("/api/assets/999999").status == 404
    assert api.get("/api/assets/abc").status == 400

    # Smart search: structure, paging and determinism.
    first = api.post("/api/search/smart", {"query": QUERY, "size": 5})
    assert first.status == 200, first.body
    ids = [a["id"] for a in first.json()["assets"]["items"]]
    assert len(ids) == 5 and len(set(ids)) == 5
    assert first.json()["assets"]["nextPage"] == "2"
    again = api.post("/api/search/smart", {"query": QUERY, "size": 5}).json()
    assert [a["id"] for a in again["assets"]["items"]] == ids
    page2 = api.post("/api/search/smart", {"query": QUERY, "size": 5, "page": 2}).json()
    assert not set(ids) & {a["id"] for a in page2["assets"]["items"]}
    everything = api.post("/api/search/smart", {"query": QUERY, "size": 1000}).json()["assets"]
    assert everything["count"] == len(GOOD_PHOTOS) and everything["nextPage"] is None
    similar = api.post("/api/search/smart", {"queryAssetId": canon["id"], "size": 1}).json()
    assert similar["assets"]["items"][0]["id"] == canon["id"]  # its own embedding is nearest

    # Keyword search (EXIF make, file names).
    canon_hits = api.post("/api/search/metadata", {"query": "canon"}).json()["assets"]["items"]
    assert canon["id"] in [a["id"] for a in canon_hits]
    corgi_hits = api.post("/api/search/metadata", {"originalFileName": "corgi"}).json()["assets"]["items"]
    assert [a["id"] for a in corgi_hits] == [by_name[DUPLICATE_COPY[0]]["id"]]

    # Text in photos: the OCR job ran after thumbnails; search finds the photo by a word it shows (also in
    # other case, accented or misspelt), not by a word it does not show. (This small Chinese recognizer reads
    # the English page with few spaces: "alarge-scale", "thedetails".)
    assert queues["ocr"]["completed"] >= len(GOOD_PHOTOS), queues["ocr"]
    text_id = by_name["ocr-en.jpg"]["id"]
    assert db_rows(data_dir, "SELECT COUNT(*) FROM asset_ocr WHERE asset_id = ?", (text_id,))[0][0] >= 3
    for word in ("scale", "SCALE", "scâle", "large-scale", "thedetail"):
        hits = api.post("/api/search/metadata", {"ocr": word}).json()["assets"]["items"]
        assert [a["id"] for a in hits] == [text_id], word
    assert api.post("/api/search/metadata", {"ocr": "zebra"}).json()["assets"]["items"] == []
    assert api.post("/api/search/metadata", {"ocr": "?!"}).status == 400
    assert api.post("/api/search/metadata", {"ocr": 7}).status == 400
    cli_ocr = json.loads(stack.cli(env, "search", "scale", "--ocr", "--json").stdout)
    assert cli_ocr["mode"] == "ocr" and [r["assetId"] for r in cli_ocr["results"]] == [text_id]
    lines = db_rows(data_dir, "SELECT COUNT(*) FROM asset_ocr")[0][0]
    assert api.put("/api/jobs/ocr", {"command": "start", "force": False}).status == 200
    api.wait_idle(timeout=60)
    assert db_rows(data_dir, "SELECT COUNT(*) FROM asset_ocr")[0][0] == lines  # "missing": nothing to do
    assert api.put("/api/jobs/ocr", {"command": "start", "force": True}).status == 200
    api.wait_idle(timeout=120)
    assert db_rows(data_dir, "SELECT COUNT(*) FROM asset_ocr")[0][0] == lines  # "all": the same lines again

    # The CLI on the same data dir while the server runs gives the same answers.
    cli = json.loads(stack.cli(env, "search", QUERY, "--limit", "5", "--json").stdout)
    assert cli["mode"] == "smart" and [r["assetId"] for r in cli["results"]] == ids
    cli_kw = json.loads(stack.cli(env, "search", "corgi", "--keyword", "--json").stdout)
    assert [r["assetId"] for r in cli_kw["results"]] == [by_name[DUPLICATE_COPY[0]]["id"]]

    # Bad input is a 4xx with a message, never a 500.
    r = api.post("/api/search/smart", {})
    assert r.status == 400 and "query" in r.json()["message"]
    assert api.post("/api/search/smart", {"query": "x", "size": 0}).status == 400
    assert api.post("/api/search/smart", {"query": "x", "takenAfter": "yesterday"}).status == 400
    assert api.request("POST", "/api/search/smart", raw=b"{not json").status == 400
    assert api.put("/api/jobs/noSuchQueue", {"command": "start"}).status == 400
    assert api.put("/api/jobs/smartSearch", {"command": "explode"}).status == 400
    bad = api.put("/api/system-config", {"machineLearning": {"facialRecognition": {"minScore": 7}}})
    assert bad.status == 400 and "minScore" in bad.json()["message"]
    unknown = api.put("/api/system-config", {"machineLearning": {"clipp": {}}})
    assert unknown.status == 400 and "clipp" in unknown.json()["message"]

    # Upload: new content is created, the same content again is a duplicate; its jobs run.
    content = (testdata / "photos" / UPLOAD_PHOTO).read_bytes()
    created = api.upload(UPLOAD_PHOTO, content)
    assert created.status == 201 and created.json()["status"] == "created", created.body
    dup = api.upload("again.jpg", content)
    assert dup.status == 200 and dup.json() == {"id": created.json()["id"], "status": "duplicate"}
    api.wait_idle(timeout=60)
    assert db_rows(data_dir, "SELECT COUNT(*) FROM smart_search WHERE asset_id = ?", (created.json()["id"],))[0][0] == 1

    # Start "missing" on an idle queue: nothing left to do, counts stay.
    before = db_rows(data_dir, "SELECT COUNT(*) FROM smart_search")[0][0]
    started = api.put("/api/jobs/smartSearch", {"command": "start", "force": False})
    assert started.status == 200, started.body
    api.wait_idle(timeout=60)
    assert db_rows(data_dir, "SELECT COUNT(*) FROM smart_search")[0][0] == before

    # Config through the CLI is seen by the server (shared database).
    got = stack.cli(env, "config", "get", "machineLearning.clip.modelName").stdout.strip()
    assert got == "ViT-B-32__openai"
    stack.cli(env, "config", "set", "job.smartSearch.concurrency", "3")
    assert api.get("/api/system-config").json()["job"]["smartSearch"]["concurrency"] == 3
    bad_cli = stack.cli(env, "config", "set", "machineLearning.facialRecognition.minScore", "7", check=False)
    assert bad_cli.returncode != 0 and "minScore" in bad_cli.stderr
    queues_cli = json.loads(stack.cli(env, "jobs", "--json").stdout)
    assert {q["name"] for q in queues_cli} >= {"smartSearch", "faceDetection", "metadataExtraction"}
    # People, faces and duplicates routes are mounted and match the document.
    assert api.get("/api/people?withHidden=true&minimumFaces=1").status == 200
    faces = api.get(f"/api/faces?id={by_name['group-obama-biden.jpg']['id']}")
    assert faces.status == 200 and len(faces.json()) == reference["results"]["group-obama-biden.jpg"]["faces"]
    assert api.get("/api/faces").status == 400
    assert api.get("/api/duplicates").status == 200
    assert api.get("/api/search/person?name=a").status == 200
    assert api.validated > 40  # responses were checked against docs/openapi.yaml


def test_ml_outage_and_kill9_lose_nothing(reference, stack, photos):
    """Run B: focal-ml is killed while jobs run (they retry, nothing is dropped) and focal serve is killed with
    SIGKILL mid-run (leases expire, jobs resume); the end state equals run A: one embedding per asset, identical
    vectors and face counts (no duplicates, nothing lost)."""
    if "results" not in reference:
        pytest.skip("needs the reference run")
    ml_port = free_port()
    ml = stack.start_ml(ml_port, "ml-b")
    data_dir = stack.workdir / "data-b"
    env = stack.focal_env(data_dir, ml_port)
    serve, port = stack.start_serve(env, "serve-b")
    api = ApiClient(port)
    try:
        sign_up(api)
        # The CLI imports (no server needed for that); the running server's workers process the jobs.
        out = stack.cli(env, "import", str(photos)).stdout
        assert f"{len(GOOD_PHOTOS) + len(BROKEN_FILES)} new" in out, out

        def embeddings() -> int:
            return db_rows(data_dir, "SELECT COUNT(*) FROM smart_search")[0][0]

        wait_until(lambda: embeddings() >= 3, 90, "the first embeddings")
        ml.kill9()
        # With ML down, the CLI's smart search falls back to keyword search with a message.
        fallback = stack.cli(env, "search", "corgi", "--json")
        assert json.loads(fallback.stdout)["mode"] == "keyword" and "falling back" in fallback.stderr
        assert api.post("/api/search/smart", {"query": "corgi"}).status in (400, 503)
        ml = stack.start_ml(ml_port, "ml-b2")

        done_before_kill = embeddings()
        wait_until(lambda: embeddings() > done_before_kill or api.queues()["smartSearch"]["waiting"] == 0, 90,
                   "progress after the ML restart")
        serve.kill9()
        serve, port = stack.start_serve(env, "serve-b2")
        api = ApiClient(port, api.token)
        assert_only_broken_files_failed(api.wait_idle(timeout=120), data_dir)
        results = check_library(data_dir, set(GOOD_PHOTOS))
        for name, ref in reference["results"].items():
            got = results[name]
            assert got["status"] == ref["status"], name
            assert got["embedding"] == ref["embedding"], f"{name}: embedding differs from the reference run"
            assert got["faces"] == ref["faces"], f"{name}: {got['faces']} faces, reference {ref['faces']}"
    finally:
        rc = serve.stop()
        ml.stop()
    assert rc == 0, serve.log_tail()


def test_three_ml_nodes_share_the_work_and_one_dies(reference, stack, photos):
    """Run C: machineLearning.balance = "least-outstanding" over three focal-ml nodes. Every node takes requests;
    one is killed with SIGKILL mid-run and its requests move to the others; the end state equals run A."""
    if "results" not in reference:
        pytest.skip("needs the reference run")
    ports = [free_port() for _ in range(3)]
    nodes = [stack.start_ml(port, f"ml-c{i}") for i, port in enumerate(ports)]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    data_dir = stack.workdir / "data-c"
    env = stack.focal_env(data_dir, ports[0], {"IMMICH_MACHINE_LEARNING_URL": ",".join(urls)})
    serve, port = stack.start_serve(env, "serve-c")
    api = ApiClient(port)
    try:
        sign_up(api)
        config = api.get("/api/system-config").json()
        config["machineLearning"]["balance"] = "least-outstanding"
        assert api.put("/api/system-config", config).status == 200
        out = stack.cli(env, "import", str(photos)).stdout
        assert f"{len(GOOD_PHOTOS) + len(BROKEN_FILES)} new" in out, out

        def requests_by_url() -> dict:
            return {u["url"]: u["requests"] for u in api.get("/api/server/ml-health").json()["urls"]}

        wait_until(lambda: all(requests_by_url().values()), 90, "requests on every ML node")
        nodes[2].kill9()
        assert_only_broken_files_failed(api.wait_idle(timeout=180), data_dir)
        results = check_library(data_dir, set(GOOD_PHOTOS))
        for name, ref in reference["results"].items():
            got = results[name]
            assert got["embedding"] == ref["embedding"], f"{name}: embedding differs from the reference run"
            assert got["faces"] == ref["faces"], f"{name}: {got['faces']} faces, reference {ref['faces']}"

        health = api.get("/api/server/ml-health").json()
        assert health["balance"] == "least-outstanding"
        by_url = {u["url"]: u for u in health["urls"]}
        assert not by_url[urls[2]]["healthy"]
        # The two live nodes did the rest between them, neither idle. Not an even split: they share two cores with
        # each other and the server, so one of them measures faster for a while by chance and rightly takes
        # more (runs here gave the smaller one 44-48 %; fallback would give it 0 %).
        live = [by_url[u]["requests"] for u in urls[:2]]
        assert min(live) >= 0.15 * sum(live), health
        assert by_url[urls[0]]["failures"] == by_url[urls[1]]["failures"] == 0, health
        metrics = api.get("/metrics")
        assert metrics.status == 200
        text = metrics.body.decode()
        assert f'focal_ml_node_requests_total{{url="{urls[0]}"}} {by_url[urls[0]]["requests"]}' in text, text
        assert 'focal_jobs{queue="smartSearch",state="completed"}' in text, text
        print("requests per ML node:", {u: by_url[u]["requests"] for u in urls},
              "latency (ms):", {u: by_url[u]["latencyMs"] for u in urls})
    finally:
        rc = serve.stop()
        for node in nodes[:2]:
            node.stop()
    assert rc == 0, serve.log_tail()


def pgvector_server() -> str:
    """The socket folder of the test PostgreSQL server with pgvector: ctest's pgvector_start starts it beside the
    first one (FOCAL_TEST_POSTGRES with "-pgvector" appended) unless FOCAL_TEST_PGVECTOR names another."""
    return os.environ.get("FOCAL_TEST_PGVECTOR") or os.environ["FOCAL_TEST_POSTGRES"] + "-pgvector"


def psql(database: str, sql: str, server: str | None = None) -> list[list[str]]:
    """Rows of `sql` on the test PostgreSQL server (ctest's postgres fixture), as text columns."""
    server = server or os.environ["FOCAL_TEST_POSTGRES"]
    run = subprocess.run(
        ["psql", "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql,
         f"host={server} user=focal dbname={database}"],
        capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    return [line.split("\t") for line in run.stdout.splitlines() if line]


@pytest.fixture
def postgres_database(reference):
    """A fresh database on the test PostgreSQL server (ctest's postgres fixture): (name, FOCAL_DATABASE_URL)."""
    if "results" not in reference:
        pytest.skip("needs the reference run")
    if not os.environ.get("FOCAL_TEST_POSTGRES"):
        if os.environ.get("CI") == "true":
            pytest.fail("FOCAL_TEST_POSTGRES is unset: ctest's postgres fixture starts the server")
        pytest.skip("no PostgreSQL test server (FOCAL_TEST_POSTGRES)")
    database = f"focal_e2e_{os.getpid()}"
    psql("postgres", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {database}")
    yield database, f"postgresql://focal@/{database}?host={os.environ['FOCAL_TEST_POSTGRES']}"
    psql("postgres", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


@pytest.fixture
def pgvector_database(postgres_database):
    """A fresh database on the test PostgreSQL server with pgvector: (name, FOCAL_DATABASE_URL)."""
    server = pgvector_server()
    try:
        psql("postgres", "SELECT 1", server)
    except AssertionError as error:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no PostgreSQL test server with pgvector at {server}: {error}")
    database = f"focal_e2e_pgv_{os.getpid()}"
    psql("postgres", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)", server)
    psql("postgres", f"CREATE DATABASE {database}", server)
    yield database, f"postgresql://focal@/{database}?host={server}"
    psql("postgres", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)", server)


def test_two_servers_share_one_postgresql_database(reference, stack, photos, postgres_database):
    """Run D: FOCAL_DATABASE_URL puts the library in PostgreSQL, and two `focal serve` processes share it (and the
    data folder, as several machines share a mount) with three focal-ml nodes. Both claim jobs; one is killed with
    SIGKILL mid-run and the other finishes everything, its jobs included: the end state equals run A's, with one
    embedding per asset and per face (nothing ran twice, nothing was lost)."""
    database, url = postgres_database
    ports = [free_port() for _ in range(3)]
    nodes = [stack.start_ml(port, f"ml-d{i}") for i, port in enumerate(ports)]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    data_dir = stack.workdir / "data-d"
    env = stack.focal_env(data_dir, ports[0], {
        "IMMICH_MACHINE_LEARNING_URL": ",".join(urls),
        "FOCAL_DATABASE_URL": url,
    })
    first, port = stack.start_serve(env, "serve-d1")
    second, _ = stack.start_serve(env, "serve-d2")
    api = ApiClient(port)
    try:
        sign_up(api)
        config = api.get("/api/system-config").json()
        config["machineLearning"]["balance"] = "least-outstanding"
        assert api.put("/api/system-config", config).status == 200
        out = stack.cli(env, "import", str(photos)).stdout
        assert f"{len(GOOD_PHOTOS) + len(BROKEN_FILES)} new" in out, out

        # Lease owners are "host:pid:…": wait until both servers hold jobs, then kill one of them.
        owners: set[str] = set()

        def both_claimed() -> bool:
            owners.update(row[0].split(":")[1] for row in
                          psql(database, "SELECT DISTINCT lease_owner FROM job WHERE state = 'active'"))
            return {str(first.proc.pid), str(second.proc.pid)} <= owners
        wait_until(both_claimed, 90, "jobs claimed by both servers")
        second.kill9()
        queues = api.wait_idle(timeout=180)
        failed = {name: stats["failed"] for name, stats in queues.items() if stats["failed"]}
        assert set(failed) <= {"metadataExtraction", "thumbnailGeneration"}, failed
        assert sum(failed.values()) <= len(BROKEN_FILES), failed

        rows = psql(database, """SELECT a.original_file_name, a.status,
                                        (SELECT count(*) FROM asset_file f WHERE f.asset_id = a.id AND f.type = 'preview'),
                                        encode(s.embedding, 'hex'),
                                        (SELECT count(*) FROM asset_face f WHERE f.asset_id = a.id AND f.deleted_at IS NULL)
                                 FROM asset a LEFT JOIN smart_search s ON s.asset_id = a.id""")
        canonical = {DUPLICATE_COPY[1]: DUPLICATE_COPY[0]}
        results = {canonical.get(name, name): (status, int(previews), bytes.fromhex(embedding) if embedding else None,
                                               int(faces))
                   for name, status, previews, embedding, faces in rows}
        assert set(results) == set(GOOD_PHOTOS) | set(BROKEN_FILES), sorted(results)
        for name, ref in reference["results"].items():
            status, previews, embedding, faces = results[name]
            assert (status, previews) == (ref["status"], ref["preview"]), name
            assert embedding == ref["embedding"], f"{name}: embedding differs from the reference run"
            assert faces == ref["faces"], f"{name}: {faces} faces, reference {ref['faces']}"
        assert psql(database, "SELECT count(*) FROM smart_search") == [[str(len(GOOD_PHOTOS))]]
        assert psql(database, "SELECT count(*) FROM asset_face f JOIN face_search s ON s.face_id = f.id "
                              "WHERE f.deleted_at IS NULL") == psql(database, "SELECT count(*) FROM asset_face "
                                                                               "WHERE deleted_at IS NULL")
        # Smart, keyword and text-in-photo search answer from PostgreSQL.
        assert len(api.post("/api/search/smart", {"query": QUERY}).json()["assets"]["items"]) > 0

        def names(body: dict) -> list[str]:
            return [a["originalFileName"] for a in api.post("/api/search/metadata", body).json()["assets"]["items"]]
        corgi = names({"originalFileName": "corgi"})  # either of the two same-content files, by scan order
        assert len(corgi) == 1 and corgi[0] in DUPLICATE_COPY, corgi
        assert "camera-Canon_40D.jpg" in names({"query": "canon"})
        assert names({"ocr": "scâle"}) == ["ocr-en.jpg"]
        print("servers that claimed jobs (pids):", sorted(owners),
              "ML requests of the surviving server:",
              {u["url"]: u["requests"] for u in api.get("/api/server/ml-health").json()["urls"]})
    finally:
        rc = first.stop()
        second.kill9()
        for node in nodes:
            node.stop()
    assert rc == 0, first.log_tail()


def sqlite_tables(data_dir) -> dict:
    """Every row of every table of a library's SQLite database (the full-text tables by rowid), sorted."""
    tables = db_rows(data_dir, "SELECT name, type FROM pragma_table_list WHERE schema = 'main' AND "
                               "type IN ('table', 'virtual') AND name NOT LIKE 'sqlite_%'")
    contents = {}
    for table, kind in tables:
        if table == "schema_migrations":  # applied_at differs: when each database was migrated
            contents[table] = sorted(db_rows(data_dir, "SELECT component, version FROM schema_migrations"))
            continue
        columns = "rowid, *" if kind == "virtual" else "*"
        contents[table] = sorted(db_rows(data_dir, f'SELECT {columns} FROM "{table}"'), key=repr)
    return contents


def face_partition(rows) -> set[frozenset]:
    """(face id, person id) rows → the faces grouped by person, whatever the person ids."""
    people: dict = {}
    for face, person in rows:
        if person not in (None, ""):
            people.setdefault(str(person), set()).add(str(face))
    return {frozenset(faces) for faces in people.values()}


def test_db_copy_to_postgresql_and_back_keeps_everything(reference, stack, postgres_database, pgvector_database):
    """`focal db copy`: run A's SQLite library → PostgreSQL → SQLite again. The copy back holds exactly the rows of
    the original; a server on the PostgreSQL copy answers searches, people and duplicates as one on the original
    does; a copy into a database that already holds a library is refused. A copy on PostgreSQL with pgvector
    (FOCAL_VECTOR_INDEX=pgvector) gets its photo and face vectors at its server's first start, answers the same,
    and clusters its faces into the same People as SQLite does."""
    database, url = postgres_database
    pgvector_name, pgvector_url = pgvector_database
    # A snapshot of run A (its server stays up for later tests), by the same command from SQLite to SQLite.
    original = stack.workdir / "data-e"
    shutil.copytree(reference["data_dir"], original, ignore=shutil.ignore_patterns("focal.db*"))
    env = stack.focal_env(original, reference["ml_port"], {"FOCAL_WORKERS": "false"})
    stack.cli(reference["env"], "db", "copy", "--to", f"sqlite:{original / 'focal.db'}")
    out = stack.cli(env, "db", "copy", "--to", url).stdout
    assert "Copied" in out and "smart_search" in out, out
    back = stack.workdir / "data-f"
    stack.cli(env, "db", "copy", "--from", url, "--to", str(back / "focal.db"))
    assert sqlite_tables(back) == sqlite_tables(original)
    again = stack.cli(env, "db", "copy", "--to", url, check=False)
    assert again.returncode != 0 and "already holds a library" in again.stderr, again.stderr
    embeddings = db_rows(original, "SELECT count(*) FROM smart_search")[0][0]
    assert psql(database, "SELECT count(*) FROM smart_search") == [[str(embeddings)]]

    group = db_rows(original, "SELECT id FROM asset WHERE original_file_name = 'group-obama-biden.jpg'")[0][0]

    def answers(server_env: dict, name: str) -> dict:
        serve, port = stack.start_serve(server_env, name)
        try:
            api = ApiClient(port)
            login = api.post("/api/auth/login", {"email": ADMIN["email"], "password": ADMIN["password"]}, auth=False)
            assert login.status == 201, login.body  # the users and their password hashes came along
            api.token = login.json()["accessToken"]
            keyword = api.post("/api/search/metadata", {"query": "canon"}).json()["assets"]["items"]
            return {
                "smart": api.post("/api/search/smart", {"query": QUERY, "size": 1000}).json(),
                "similar": api.post("/api/search/smart", {"queryAssetId": group, "size": 10}).json(),
                # bm25 on SQLite, ts_rank on PostgreSQL: the same photos, maybe in another order.
                "keyword": sorted(a["id"] for a in keyword),
                "file": api.post("/api/search/metadata", {"originalFileName": "corgi"}).json(),
                "ocr": api.post("/api/search/metadata", {"ocr": "scâle"}).json(),
                "people": api.get("/api/people?withHidden=true").json(),
                "faces": api.get(f"/api/faces?id={group}").json(),
                "duplicates": api.get("/api/duplicates").json(),
                "assets": api.get("/api/assets?size=1000").json(),
                "config": api.get("/api/system-config").json(),
            }
        finally:
            assert serve.stop() == 0, serve.log_tail()

    on_sqlite = answers(env, "serve-e")
    on_postgres = answers(dict(env, FOCAL_DATABASE_URL=url), "serve-e-pg")
    assert len(on_sqlite["smart"]["assets"]["items"]) == embeddings and on_sqlite["keyword"]
    assert [a["originalFileName"] for a in on_sqlite["ocr"]["assets"]["items"]] == ["ocr-en.jpg"]
    for key, answer in on_sqlite.items():
        assert on_postgres[key] == answer, key

    pgvector_env = dict(env, FOCAL_DATABASE_URL=pgvector_url, FOCAL_VECTOR_INDEX="pgvector")
    stack.cli(env, "db", "copy", "--to", pgvector_url)
    on_pgvector = answers(pgvector_env, "serve-e-pgv")
    for key, answer in on_sqlite.items():
        assert on_pgvector[key] == answer, key
    faces = db_rows(original, "SELECT count(*) FROM face_search")[0][0]
    assert faces > 0
    assert psql(pgvector_name, "SELECT (SELECT count(*) FROM smart_search_vector), "
                               "(SELECT count(*) FROM face_search_vector)", pgvector_server()) == \
        [[str(embeddings), str(faces)]]
    # Facial recognition "All" from scratch: the faces' nearest neighbours come from pgvector's index.
    for server_env in (env, pgvector_env):
        stack.cli(server_env, "jobs", "start", "facialRecognition", "--all")
        stack.cli(server_env, "jobs", "run", timeout=300)
    on_sqlite_people = face_partition(db_rows(original, "SELECT id, person_id FROM asset_face"))
    assert on_sqlite_people
    assert face_partition(psql(pgvector_name, "SELECT id, person_id FROM asset_face", pgvector_server())) == \
        on_sqlite_people


def test_cli_import_wait_without_server(reference, stack, testdata, tmp_path):
    """`focal import --wait` runs every job in the foreground; no server involved."""
    folder = tmp_path / "few"
    folder.mkdir()
    names = GOOD_PHOTOS[:4]
    for name in names:
        (folder / name).write_bytes((testdata / "photos" / name).read_bytes())
    data_dir = tmp_path / "data-c"
    env = stack.focal_env(data_dir, reference["ml_port"])
    run = stack.cli(env, "import", str(folder), "--wait")
    assert "Processed" in run.stdout and "0 failed" in run.stdout, run.stdout
    results = results_by_file(data_dir)
    assert set(results) == set(names)
    for name in names:
        assert results[name]["embedding"] == reference["results"][name]["embedding"], name
        assert results[name]["faces"] == reference["results"][name]["faces"], name
    listing = json.loads(stack.cli(env, "jobs", "--json").stdout)
    assert all(q["statistics"]["waiting"] + q["statistics"]["active"] == 0 for q in listing)
