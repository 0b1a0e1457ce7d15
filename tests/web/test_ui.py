# SPDX-License-Identifier: AGPL-3.0-or-later
"""The web UI against real servers, in the order a new user meets it: sign up, upload, run the jobs, search,
open a photo with its faces, name / merge / hide people, resolve duplicates, change ML settings. Tests share
one signed-in browser session and build on each other (pytest runs them in file order).
"""

from __future__ import annotations

import base64
import re
import struct
import time
import zlib

from playwright.sync_api import Page, expect

from conftest import DESKTOP, PHOTOS, ForeignRequests
from harness import free_port

DROPPED_PHOTO = "scene-aurora.jpg"
ADMIN = {"name": "Ada Admin", "email": "ada@example.com", "password": "correct horse battery"}
JOB_TIMEOUT_MS = 300_000


def all_queues_idle(page: Page) -> None:
    page.wait_for_function(
        """() => {
          const cards = [...document.querySelectorAll('[data-testid^=queue-]')];
          return cards.length > 0 && cards.every(c =>
            c.querySelector('[data-testid=active]').textContent === '0' &&
            c.querySelector('[data-testid=waiting]').textContent === '0');
        }""",
        timeout=JOB_TIMEOUT_MS,
        polling=500,
    )


def one_pixel_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x80\x80\x80")  # one grey RGB pixel after its row's filter byte
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def completed(page: Page, queue: str) -> int:
    return int(page.get_by_test_id(f"queue-{queue}").get_by_test_id("completed").text_content())


def test_01_first_admin_signs_up(page: Page, check_page):
    page.goto("/")
    expect(page.get_by_role("heading", name="Welcome to focal")).to_be_visible()
    check_page("sign-up")
    page.get_by_label("Name").fill(ADMIN["name"])
    page.get_by_label("Email").fill(ADMIN["email"])
    page.get_by_label("Password").fill(ADMIN["password"])
    page.get_by_role("button", name="Create admin account").click()
    expect(page.get_by_role("heading", name="Photos")).to_be_visible()
    expect(page.get_by_text("No photos yet")).to_be_visible()


def test_02_upload_fills_the_timeline(page: Page, server, check_page):
    page.goto("/")
    page.locator("input[type=file]").set_input_files([str(server["photos"] / name) for name in PHOTOS])
    expect(page.get_by_text(f"Uploaded {len(PHOTOS)}")).to_be_visible(timeout=60_000)
    expect(page.locator(".page-head .muted")).to_have_text(f"{len(PHOTOS)} photos")
    # The grid is virtualised: scroll through it and collect every photo's link.
    seen = page.evaluate(
        """async () => {
          const el = document.querySelector('[data-testid=timeline-scroller]');
          const hrefs = new Set();
          for (let top = 0; ; top += el.clientHeight / 2) {
            el.scrollTop = top;
            await new Promise(r => setTimeout(r, 150));
            el.querySelectorAll('.timeline-tile[href]').forEach(a => hrefs.add(a.getAttribute('href')));
            if (top >= el.scrollHeight) break;
          }
          el.scrollTop = 0;
          return hrefs.size;
        }"""
    )
    assert seen == len(PHOTOS)
    check_page("timeline")
    check_page("timeline", dark=True)

    # Drag and drop: a file dropped anywhere on the page is uploaded.
    photo = base64.b64encode((server["testdata"] / "photos" / DROPPED_PHOTO).read_bytes()).decode()
    page.evaluate(
        """([name, data]) => {
          const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
          const transfer = new DataTransfer();
          transfer.items.add(new File([bytes], name, {type: 'image/jpeg'}));
          window.dispatchEvent(new DragEvent('dragover', {dataTransfer: transfer, cancelable: true}));
          window.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, cancelable: true}));
        }""",
        [DROPPED_PHOTO, photo],
    )
    expect(page.get_by_text("Uploaded 1", exact=True)).to_be_visible(timeout=30_000)
    expect(page.locator(".page-head .muted")).to_have_text(f"{len(PHOTOS) + 1} photos")


def test_03_jobs_run_to_zero_from_the_jobs_page(page: Page, check_page):
    page.goto("/jobs")
    all_queues_idle(page)  # the upload pipeline's jobs
    before = completed(page, "smartSearch")
    page.get_by_test_id("queue-smartSearch").get_by_role("button", name=re.compile("^All")).click()
    page.wait_for_function(
        f"() => Number(document.querySelector('[data-testid=queue-smartSearch] [data-testid=completed]')"
        f".textContent) >= {before + len(PHOTOS)}",
        timeout=JOB_TIMEOUT_MS,
    )
    all_queues_idle(page)

    # Face detection Reset deletes every face and person: the page asks first, and Cancel sends nothing.
    faces_before = completed(page, "faceDetection")
    page.get_by_test_id("queue-faceDetection").get_by_role("button", name=re.compile("^Reset")).click()
    expect(page.get_by_text("This will also clear named people")).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_timeout(2500)
    assert completed(page, "faceDetection") == faces_before
    page.get_by_test_id("queue-faceDetection").get_by_role("button", name=re.compile("^Reset")).click()
    page.get_by_role("button", name="Yes, reprocess").click()
    page.wait_for_function(
        f"() => Number(document.querySelector('[data-testid=queue-faceDetection] [data-testid=completed]')"
        f".textContent) >= {faces_before + len(PHOTOS)}",
        timeout=JOB_TIMEOUT_MS,
    )
    all_queues_idle(page)
    check_page("jobs")


def test_04_smart_and_keyword_search(page: Page, check_page):
    page.goto("/")
    page.get_by_label("Search your photos").fill("dog on a beach")
    page.get_by_label("Search your photos").press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=dog"))
    expect(page.get_by_test_id("search-mode")).to_have_attribute("data-mode", "smart")
    expect(page.get_by_role("list", name="Search results").locator("li").first).to_be_visible()
    check_page("search")

    page.get_by_label("Keyword").check()
    expect(page.get_by_test_id("search-mode")).to_have_attribute("data-mode", "keyword")
    page.locator("#search-page-input").fill("corgi")
    page.get_by_role("button", name="Search", exact=True).click()
    results = page.get_by_role("list", name="Search results").locator("img")
    expect(results).to_have_count(1)
    expect(results).to_have_attribute("alt", "pet-dog-corgi.jpg")


def test_05_photo_view_shows_faces_exif_and_steps_with_arrows(page: Page, check_page):
    page.goto("/search?q=group&mode=keyword")
    page.get_by_role("list", name="Search results").get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/photos/\d+"))
    expect(page.get_by_test_id("face-box").first).to_be_visible()
    assert page.get_by_test_id("face-box").count() >= 2
    expect(page.get_by_label("Photo details")).to_contain_text("group-obama-biden.jpg")
    check_page("photo")

    # A face moved to a new person (the "create a person" action).
    faces = page.locator(".faces li")
    faces.first.get_by_role("button", name=re.compile("Change")).click()
    page.get_by_role("button", name="New person").click()
    expect(faces.first.get_by_role("link", name="Unnamed person")).to_be_visible()
    # And one removed ("Not a face"): its box goes.
    boxes = page.get_by_test_id("face-box").count()
    faces.last.get_by_role("button", name=re.compile("Change")).click()
    page.get_by_role("button", name="Not a face").click()
    expect(page.get_by_test_id("face-box")).to_have_count(boxes - 1)

    # ← / → step through the list the photo was opened from.
    page.goto("/search?q=obama&mode=keyword")
    links = page.get_by_role("list", name="Search results").get_by_role("link")
    expect(links.nth(1)).to_be_visible()
    first, second = links.first.get_attribute("href"), links.nth(1).get_attribute("href")
    links.first.click()
    expect(page.get_by_label("Photo details")).to_be_visible()
    page.keyboard.press("ArrowRight")
    expect(page).to_have_url(re.compile(re.escape(second) + "$"))
    # The photo has rendered (its arrows point at its own neighbours) before the next key.
    expect(page.get_by_label("Previous photo")).to_have_attribute("href", first)
    page.keyboard.press("ArrowLeft")
    expect(page).to_have_url(re.compile(re.escape(first) + "$"))


def open_person(page: Page, index: int) -> None:
    page.goto("/people")
    page.get_by_test_id("person-card").nth(index).get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/people/\d+"))


def rename(page: Page, name: str) -> None:
    page.get_by_role("button", name="Rename").click()
    page.locator("#person-name").fill(name)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()


def face_count(page: Page) -> int:
    text = page.locator(".person-head p").text_content()
    return int(re.match(r"\s*([\d,]+) face", text).group(1).replace(",", ""))


def test_06_people_rename_merge_hide(page: Page, check_page):
    page.goto("/people")
    cards = page.get_by_test_id("person-card")
    expect(cards.first).to_be_visible()
    assert cards.count() >= 2, "face clustering should find at least two people in the test photos"
    check_page("people")
    check_page("people", dark=True)

    open_person(page, 0)
    rename(page, "Alice Example")
    page.get_by_label("Birth date").fill("1961-08-04")
    page.get_by_label("Birth date").dispatch_event("change")
    expect(page.get_by_label("Birth date")).to_have_value("1961-08-04")
    alice_faces = face_count(page)
    check_page("person")

    open_person(page, 1)
    rename(page, "Bob Example")
    bob_faces = face_count(page)
    page.get_by_label("Find a person by name").fill("Alice")
    page.get_by_role("button", name=re.compile("^Merge Alice Example")).click()
    expect(page.get_by_text("this cannot be undone")).to_be_visible()
    page.get_by_role("button", name="Merge", exact=True).click()
    expect(page.locator(".person-head p")).to_contain_text(f"{alice_faces + bob_faces} face")

    page.goto("/people")
    expect(page.get_by_text("Alice Example")).to_have_count(0)
    bob = page.get_by_test_id("person-card").filter(has_text="Bob Example")
    bob.get_by_role("button", name=re.compile("^Hide")).click()
    expect(page.get_by_test_id("person-card").filter(has_text="Bob Example")).to_have_count(0)
    page.get_by_label("Show hidden people").check()
    hidden = page.get_by_test_id("person-card").filter(has_text="Bob Example")
    expect(hidden.get_by_role("button", name=re.compile("^Unhide"))).to_be_visible()
    hidden.get_by_role("button", name=re.compile("^Unhide")).click()
    page.get_by_label("Show hidden people").uncheck()
    expect(page.get_by_test_id("person-card").filter(has_text="Bob Example")).to_have_count(1)


def test_07_duplicates_resolve(page: Page, check_page):
    page.goto("/duplicates")
    groups = page.get_by_test_id("duplicate-group")
    expect(groups.first).to_be_visible()
    count = groups.count()
    check_page("duplicates")
    groups.first.get_by_role("button", name=re.compile("^Resolve")).click()
    expect(groups).to_have_count(count - 1)


def test_08_settings_smart_search_off_and_a_dead_ml_url(page: Page, server, check_page):
    page.goto("/settings")
    expect(page.get_by_role("heading", name="Machine Learning Settings")).to_be_visible()
    expect(page.get_by_test_id("ml-url").first).to_have_attribute("data-health", "healthy", timeout=20_000)
    check_page("settings")
    check_page("settings", dark=True)

    # The fixture's import went through the live node: its counters are shown.
    expect(page.get_by_test_id("ml-url-counters").first).to_contain_text(re.compile(r"requests?, 0 failed"))
    page.get_by_label("Spread requests").select_option("least-outstanding")
    expect(page.get_by_text("Every healthy URL takes requests")).to_be_visible()

    page.get_by_label("Smart Search", exact=True).uncheck()
    dead = f"http://127.0.0.1:{free_port()}"
    page.get_by_label("Add a URL").fill(dead)
    page.get_by_role("button", name="Add URL").click()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    row = page.get_by_test_id("ml-url").filter(has_text=dead)
    expect(row).to_have_attribute("data-health", "unhealthy", timeout=20_000)
    page.reload()
    expect(page.get_by_label("Spread requests")).to_have_value("least-outstanding")

    page.goto("/search?q=dog")
    expect(page.get_by_test_id("search-mode")).to_have_attribute("data-mode", "keyword")
    expect(page.get_by_test_id("search-mode")).to_contain_text("Smart Search is off")


def test_09_timeline_of_100k_generated_assets_scrolls_with_bounded_dom(browser, server, context, figures):
    """The timeline with 100 000 generated assets (API answers intercepted, thumbnails a 1-pixel image):
    scrolled top to bottom; the figures are recorded, the number of rendered tiles must stay bounded."""
    months = 240
    per_month = 100_000 // months
    counts = [per_month + (1 if m < 100_000 - per_month * months else 0) for m in range(months)]
    buckets = []
    for m, count in enumerate(counts):
        year, month = 2026 - (m // 12), 12 - (m % 12)
        buckets.append({"timeBucket": f"{year:04d}-{month:02d}-01T00:00:00.000Z", "count": count})
    by_key = {b["timeBucket"]: b for b in buckets}
    pixel = one_pixel_png()

    page = context.new_page()
    page.set_viewport_size(DESKTOP)

    def bucket(route):
        key = re.search(r"timeBucket=([^&]+)", route.request.url).group(1).replace("%3A", ":")
        b = by_key[key]
        base = 10_000_000 + buckets.index(b) * 1000
        assets = [{"id": base + i, "fileCreatedAt": key, "width": 4, "height": 3,
                   "originalFileName": f"generated-{base + i}.jpg", "type": "IMAGE", "isFavorite": False}
                  for i in range(b["count"])]
        route.fulfill(json={"timeBucket": key, "assets": assets})

    page.route("**/api/timeline/buckets", lambda route: route.fulfill(json=buckets))
    page.route(re.compile(r".*/api/timeline/bucket\?.*"), bucket)
    page.route(re.compile(r".*/api/assets/1\d{7}/thumbnail.*"),
               lambda route: route.fulfill(body=pixel, content_type="image/png"))
    page.goto("/")
    expect(page.get_by_text("100,000 photos")).to_be_visible()
    result = page.evaluate(
        """async () => {
          const el = document.querySelector('[data-testid=timeline-scroller]');
          const frames = [];
          let maxTiles = 0;
          const start = performance.now();
          let last = start;
          while (el.scrollTop + el.clientHeight < el.scrollHeight - 1) {
            el.scrollTop += el.clientHeight * 8;
            await new Promise(r => requestAnimationFrame(r));
            const now = performance.now();
            frames.push(now - last);
            last = now;
            maxTiles = Math.max(maxTiles, el.querySelectorAll('.timeline-tile').length);
          }
          frames.sort((a, b) => a - b);
          return {ms: performance.now() - start, frames: frames.length,
                  p50: frames[Math.floor(frames.length / 2)], p99: frames[Math.floor(frames.length * 0.99)],
                  maxTiles, height: el.scrollHeight};
        }"""
    )
    page.close()
    figures["timeline_100k_scroll"] = result
    print(f"100k timeline scroll: {result}")
    assert result["frames"] > 100, result
    # Virtualised: a screenful plus overscan, never the library.
    assert result["maxTiles"] < 1500, result


def test_10_first_load_size_and_headers(browser, server, figures):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    response = page.goto(server["url"] + "/")
    headers = response.headers
    csp = headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "object-src 'none'" in csp, csp
    assert headers.get("x-content-type-options") == "nosniff"
    page.wait_for_load_state("networkidle")
    sizes = page.evaluate(
        """() => {
          const nav = performance.getEntriesByType('navigation')[0];
          const res = performance.getEntriesByType('resource').filter(r => !r.name.includes('/api/'));
          return {document: nav.encodedBodySize, assets: res.map(r => [r.name, r.encodedBodySize])};
        }"""
    )
    total = sizes["document"] + sum(size for _, size in sizes["assets"])
    figures["first_load_bytes"] = {"total": total, **sizes}
    print(f"first load (compressed bytes, API calls excluded): {total} {sizes}")
    assert total < 200_000, sizes
    context.close()


def test_11_foreign_request_check_catches_a_request_to_another_host(browser, server):
    """The check every page runs under: with the CSP bypassed, a request to another host is seen."""
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    foreign = ForeignRequests(server["url"])
    page.on("request", foreign)
    page.route("http://192.0.2.1/**", lambda route: route.abort())
    page.goto(server["url"] + "/")
    page.evaluate("() => { new Image().src = 'http://192.0.2.1/pixel.png'; }")
    deadline = time.monotonic() + 5
    while not foreign.seen and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    context.close()
    assert foreign.seen == ["http://192.0.2.1/pixel.png"]
