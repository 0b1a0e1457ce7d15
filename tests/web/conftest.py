# SPDX-License-Identifier: AGPL-3.0-or-later
"""Fixtures of the browser suite: a real `focal serve` (serving the built web UI) and `focal-ml` with the
generated CLIP models and the real SCRFD + MobileFaceNet face networks, and Debian's Chromium driven by
Playwright. Every page is screenshotted at desktop and phone width into the artifacts folder and scanned
with axe-core; every request the page makes must go to the server it was loaded from.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from harness import HOST, REPO_ROOT, Stack, free_port  # noqa: E402

from playwright.sync_api import Page, sync_playwright  # noqa: E402

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
AXE = REPO_ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
FACE_PACK = "buffalo_s"
# Faces of two people (and a group photo of both), scenes and pets, and two resizes of one photo.
PHOTOS = [
    "face-obama-1.jpg", "face-obama-2.jpg", "face-obama-3.jpg", "face-biden-1.jpg", "face-biden-2.jpg",
    "group-obama-biden.jpg", "pet-dog-corgi.jpg", "scene-beach-sand.jpg", "camera-Canon_40D.jpg",
    "dup-obama-720p.jpg", "dup-obama-1080p.jpg",
]


def pytest_addoption(parser):
    for name, help_text in (
        ("--focal", "focal binary"),
        ("--focal-ml", "focal-ml binary"),
        ("--models", "generated model cache"),
        ("--testdata", "shared test data folder"),
        ("--web-dir", "the built web UI (build/<preset>/web)"),
        ("--artifacts", "folder for screenshots and figures"),
        ("--chromium", "Chromium binary (default /usr/bin/chromium)"),
    ):
        parser.addoption(name, default=None, help=help_text)


def _path(config, name: str, default: Path) -> Path:
    return Path(config.getoption(name) or default).resolve()


@pytest.fixture(scope="session")
def artifacts(pytestconfig) -> Path:
    path = _path(pytestconfig, "--artifacts", REPO_ROOT / "build" / "release" / "web-artifacts")
    shutil.rmtree(path, ignore_errors=True)
    (path / "screenshots").mkdir(parents=True)
    return path


@pytest.fixture(scope="session")
def figures(artifacts):
    """Measured figures, written to artifacts/figures.json at the end of the run."""
    values: dict = {}
    yield values
    (artifacts / "figures.json").write_text(json.dumps(values, indent=2) + "\n")


@pytest.fixture(scope="session")
def server(pytestconfig, tmp_path_factory):
    """focal-ml + focal serve on fresh data; yields the base URL and the photo folder."""
    build = REPO_ROOT / "build" / "release"
    focal = _path(pytestconfig, "--focal", build / "focal")
    focal_ml = _path(pytestconfig, "--focal-ml", build / "focal-ml")
    models = _path(pytestconfig, "--models", build / "test-models")
    testdata = _path(pytestconfig, "--testdata", REPO_ROOT.parent / "shared" / "testdata")
    web_dir = _path(pytestconfig, "--web-dir", build / "web")
    if not (web_dir / "index.html").is_file():
        pytest.fail(f"the built web UI is missing at {web_dir} (cmake --build builds it)", pytrace=False)

    workdir = tmp_path_factory.mktemp("web")
    cache = workdir / "model-cache"
    shutil.copytree(models, cache, symlinks=True)
    for kind, model in (("detection", "scrfd-500m.onnx"), ("recognition", "mobilefacenet-128d.onnx")):
        target = cache / "facial-recognition" / FACE_PACK / kind
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(testdata / "models" / model, target / "model.onnx")
    photos = workdir / "photos"
    photos.mkdir()
    for name in PHOTOS:
        shutil.copy(testdata / "photos" / name, photos / name)

    stack = Stack(str(focal), str(focal_ml), cache, workdir)
    ml_port = free_port()
    ml = stack.start_ml(ml_port, cache=cache)
    data_dir = workdir / "data"
    env = stack.focal_env(data_dir, ml_port, {"FOCAL_WEB_DIR": str(web_dir)})
    stack.cli(env, "import", str(tmp_path_factory.mktemp("empty")))  # creates the database
    for key, value in (
        ("machineLearning.facialRecognition.modelName", FACE_PACK),
        ("machineLearning.facialRecognition.minFaces", "1"),
    ):
        stack.cli(env, "config", "set", key, value)
    serve, port = stack.start_serve(env)
    try:
        yield {"url": f"http://{HOST}:{port}", "photos": photos, "testdata": testdata, "data_dir": data_dir}
    finally:
        serve.stop()
        ml.stop()


@pytest.fixture(scope="session")
def browser(pytestconfig):
    executable = pytestconfig.getoption("--chromium") or shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                  "--disable-default-apps", "--disable-sync", "--no-first-run", "--metrics-recording-only"],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def context(browser, server):
    """One signed-in browser session for the whole story (the first test signs up)."""
    context = browser.new_context(viewport=DESKTOP, base_url=server["url"])
    context.set_default_timeout(15000)
    yield context
    context.close()


class ForeignRequests:
    """Every request whose origin is not the server's."""

    def __init__(self, origin: str):
        self.origin = origin
        self.seen: list[str] = []

    def __call__(self, request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.seen.append(request.url)


@pytest.fixture
def page(context, server) -> Page:
    """A page of the shared session; fails the test if it requested anything from another host."""
    page = context.new_page()
    foreign = ForeignRequests(server["url"])
    page.on("request", foreign)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    page.close()
    assert not foreign.seen, f"requests to other hosts: {foreign.seen}"
    assert not errors, f"uncaught errors in the page: {errors}"


def axe_scan(page: Page) -> list[dict]:
    """axe-core's violations of impact serious or critical on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the page's CSP (rightly) refuses an injected <script>.
        page.evaluate(AXE.read_text() + "\n;undefined")
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def check_page(page, artifacts):
    """check_page(name): screenshots at desktop and phone width, and no serious axe violation at either;
    check_page(name, dark=True) does the same in the dark theme (the system preference)."""

    def check(name: str, dark: bool = False) -> None:
        page.emulate_media(color_scheme="dark" if dark else "light")
        name = f"{name}-dark" if dark else name
        page.wait_for_load_state("networkidle")
        problems = {}
        for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            page.wait_for_timeout(150)  # layout settles (ResizeObserver, virtualised rows)
            page.screenshot(path=str(artifacts / "screenshots" / f"{name}-{label}.png"), full_page=False)
            violations = axe_scan(page)
            if violations:
                problems[label] = violations
        page.set_viewport_size(DESKTOP)
        page.emulate_media(color_scheme="light")
        assert not problems, f"accessibility violations on {name}: {json.dumps(problems, indent=1)}"

    return check
