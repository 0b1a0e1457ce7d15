#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""End-to-end benchmark of focal-ml against tools/reference_server.py (the Python reference: Pillow + numpy +
onnxruntime, same ORT threads), both measured in the same run on the same models and inputs (bench/run_e2e.sh).

1. /predict throughput, p50/p99 latency and CPU seconds per request at concurrency 1/2/4/8 for clip.visual,
   clip.textual and faces (bench/predict_load: closed loop, keep-alive connections, 1440 px JPEG previews), rounds
   alternating the two servers. CLIP is a generated tower with the real ViT-B-32's shape (tools/gen_test_models.py
   --full-size: 12 layers, random weights), faces the real SCRFD-500M + MobileFaceNet networks (buffalo_s sizes).
2. Where focal's request time goes, per stage, from its own /metrics (decode, pre/post-processing, ORT Run).
3. Memory: RSS idle, after one request, over and after a 60 s faces load at concurrency 4, after the TTL unload.
4. Cold start: process start -> /ping answers -> first prediction answered.
5. The goals of docs/BENCHMARKS.md next to the figures reached.

    python bench/run_e2e.py --build build/release [--seconds 4] [--rounds 2] [--concurrency 1,2,4,8]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = str(ROOT / ".venv" / "bin" / "python")
TESTDATA = ROOT.parent / "shared" / "testdata"
ORT_THREADS = {"MACHINE_LEARNING_MODEL_INTER_OP_THREADS": "1", "MACHINE_LEARNING_MODEL_INTRA_OP_THREADS": "2"}
TASKS = {  # task -> (model name, inputs key)
    "clip.visual": ("ViT-B-32__openai", "clip_images"),
    "clip.textual": ("ViT-B-32__openai", "queries"),
    "faces": ("buffalo_s", "face_images"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ping(port: int) -> bool:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        c.request("GET", "/ping")
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except OSError:
        return False


def post_predict(port: int, entries: dict, image: bytes | None = None, text: str | None = None) -> int:
    b = uuid.uuid4().hex
    parts = [f'--{b}\r\nContent-Disposition: form-data; name="entries"\r\n\r\n{json.dumps(entries)}\r\n'.encode()]
    if image is not None:
        parts.append(f'--{b}\r\nContent-Disposition: form-data; name="image"; filename="i.jpg"\r\n'
                     f"Content-Type: image/jpeg\r\n\r\n".encode() + image + b"\r\n")
    if text is not None:
        parts.append(f'--{b}\r\nContent-Disposition: form-data; name="text"\r\n\r\n{text}\r\n'.encode())
    body = b"".join(parts) + f"--{b}--\r\n".encode()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("POST", "/predict", body, {"Content-Type": f"multipart/form-data; boundary={b}"})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def rss_kb(pid: int) -> dict:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"):
            out[k] = int(v.split()[0])
    return out


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Sampler:
    """Samples a process's RSS and CPU time every `period` seconds on a thread while a load runs."""

    def __init__(self, pid: int, period: float = 0.5):
        self.pid, self.period, self.samples = pid, period, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = time.perf_counter()

    def _sample(self) -> None:
        self.samples.append((time.perf_counter() - self._t0, cpu_s(self.pid), rss_kb(self.pid)["VmRSS"]))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.period)

    def __enter__(self) -> "Sampler":
        self._t0 = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def cpu_seconds(self) -> float:
        return self.samples[-1][1] - self.samples[0][1]


def stage_sums(port: int) -> dict:
    """focal-ml's focal_ml_stage_seconds histogram sums by (stage, task, type), from its /metrics."""
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out: dict = {}
    for line in body.splitlines():
        if not line.startswith("focal_ml_stage_seconds_sum{"):
            continue
        labels = dict(kv.split("=", 1) for kv in line[line.index("{") + 1:line.rindex("}")].split(","))
        key = tuple(labels.get(n, '""').strip('"') for n in ("stage", "task", "type"))
        out[key] = out.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
    return out


class Server:
    def __init__(self, kind: str, build: Path, cache: Path, env: dict | None = None):
        self.kind, self.port = kind, free_port()
        e = {k: v for k, v in os.environ.items() if not k.startswith(("MACHINE_LEARNING_", "FOCAL_ML_", "IMMICH_"))}
        e.update({"IMMICH_HOST": "127.0.0.1", "IMMICH_PORT": str(self.port), "MACHINE_LEARNING_CACHE_FOLDER": str(cache),
                  "IMMICH_LOG_LEVEL": "warning", "NO_COLOR": "1", "HF_HUB_OFFLINE": "1",
                  "MACHINE_LEARNING_REQUEST_THREADS": str(os.cpu_count()), **ORT_THREADS, **(env or {})})
        if kind == "focal":
            cmd = [str(build / "focal-ml")]
        else:
            cmd = [PY, str(ROOT / "tools" / "reference_server.py"), "--models", str(cache), "--port", str(self.port),
                   "--threads", str(os.cpu_count())]
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ping_s = None
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            if ping(self.port):
                self.ping_s = time.perf_counter() - self.t0
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"{kind} server exited with {self.proc.returncode}")
            time.sleep(0.001)
        raise RuntimeError(f"{kind} server did not answer /ping")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def prepare(work: Path, build: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "previews").is_dir():
        subprocess.run([PY, str(ROOT / "bench" / "make_previews.py"), str(TESTDATA / "photos"), str(work / "previews")],
                       check=True, stdout=subprocess.DEVNULL)
    if not (work / "face-previews").is_dir():
        (work / "face-photos").mkdir(exist_ok=True)
        for p in TESTDATA.joinpath("photos").glob("*"):
            if p.name.startswith(("face-", "group-")) and not (work / "face-photos" / p.name).exists():
                (work / "face-photos" / p.name).symlink_to(p)
        subprocess.run([PY, str(ROOT / "bench" / "make_previews.py"), str(work / "face-photos"),
                        str(work / "face-previews")], check=True, stdout=subprocess.DEVNULL)
    if not (work / "models").is_dir():
        subprocess.run([PY, str(ROOT / "tools" / "gen_test_models.py"), "--out", str(work / "models")], check=True,
                       stdout=subprocess.DEVNULL)
    if not (work / "models-full").is_dir():  # ViT-B-32-shaped CLIP (~500 MB), so that Run times are real ones
        subprocess.run([PY, str(ROOT / "tools" / "gen_test_models.py"), "--out", str(work / "models-full"), "--only",
                        "ViT-B-32__openai", "--full-size"], check=True, stdout=subprocess.DEVNULL)
    # 40 CLIP previews (the same files for the HTTP load and the in-process bench).
    clip_images = work / "e2e-clip-previews"
    if not clip_images.is_dir():
        clip_images.mkdir()
        for p in sorted((work / "previews").iterdir())[:40]:
            (clip_images / p.name).symlink_to(p)
    # One model cache for both servers: the ViT-B-32-shaped CLIP, the generated buffalo_l, and buffalo_s made of the
    # real SCRFD-500M and MobileFaceNet networks from shared/testdata (copied: a recognizer file may be rewritten in
    # place).
    cache = work / "e2e-cache-full"
    if not cache.is_dir():
        (cache / "clip").mkdir(parents=True)
        (cache / "clip" / "ViT-B-32__openai").symlink_to(work / "models-full" / "clip" / "ViT-B-32__openai")
        fr = cache / "facial-recognition"
        fr.mkdir()
        (fr / "buffalo_l").symlink_to(work / "models" / "facial-recognition" / "buffalo_l")
        for kind, src in (("detection", "scrfd-500m.onnx"), ("recognition", "mobilefacenet-128d.onnx")):
            (fr / "buffalo_s" / kind).mkdir(parents=True)
            shutil.copyfile(TESTDATA / "models" / src, fr / "buffalo_s" / kind / "model.onnx")
            (fr / "buffalo_s" / kind / "model.onnx").chmod(0o644)
    return {"cache": cache, "clip_images": clip_images, "face_images": work / "face-previews",
            "queries": ROOT / "bench" / "queries.txt", "models": work / "models"}


WARMUP = 1  # requests per connection before measuring


def load(build: Path, server: Server, task: str, inputs: Path, concurrency: int, seconds: float) -> dict:
    """One closed-loop load; adds CPU ms per request, peak RSS and (focal) the /metrics stage sums it added."""
    cmd = [str(build / "bench" / "predict_load"), "--port", str(server.port), "--task", task, "--model", TASKS[task][0],
           "--inputs", str(inputs), "--concurrency", str(concurrency), "--seconds", str(seconds),
           "--warmup", str(WARMUP)]
    # One request first, so that a model load on first use stays out of the stage sums.
    first = sorted(inputs.iterdir())[0].read_bytes() if inputs.is_dir() else None
    model = TASKS[task][0]
    warm = {"clip.visual": ({"clip": {"visual": {"modelName": model}}}, {"image": first}),
            "clip.textual": ({"clip": {"textual": {"modelName": model}}}, {"text": "a photo of a dog"}),
            "faces": ({"facial-recognition": {"detection": {"modelName": model}, "recognition": {"modelName": model}}},
                      {"image": first})}[task]
    assert post_predict(server.port, warm[0], **warm[1]) == 200
    before = stage_sums(server.port) if server.kind == "focal" else None
    with Sampler(server.proc.pid, 0.25) as sampler:
        out = subprocess.run(cmd, capture_output=True, text=True)
    r = json.loads(out.stdout)
    if r.get("errors"):
        raise RuntimeError(f"{server.kind} {task} c={concurrency}: {r}")
    # Every request the server answered in the window, the warm-up ones included.
    r["cpu_ms_per_request"] = 1e3 * sampler.cpu_seconds() / (r["requests"] + concurrency * WARMUP)
    r["peak_rss_mib"] = max(x[2] for x in sampler.samples) / 1024
    r["rss_series_mib"] = [(round(t, 1), round(kb / 1024, 1)) for t, _, kb in sampler.samples]
    if before is not None:
        after = stage_sums(server.port)
        r["stages"] = {"|".join(k): after[k] - before.get(k, 0.0) for k in after}
    return r


def memory(build: Path, inp: dict, ttl: int, load_s: float, kinds: list[str], focal_env: dict) -> dict:
    """RSS idle, after one faces request, during and after a faces load at concurrency 4, after loading every model,
    and (focal) after the TTL unload."""
    env = {"MACHINE_LEARNING_MODEL_TTL": str(ttl), "MACHINE_LEARNING_MODEL_TTL_POLL_S": "1"}
    img = sorted(inp["face_images"].iterdir())[0].read_bytes()
    faces = {"facial-recognition": {"detection": {"modelName": "buffalo_s"}, "recognition": {"modelName": "buffalo_s"}}}
    out = {}
    for kind in kinds:
        s = Server(kind, build, inp["cache"], {**env, **(focal_env if kind == "focal" else {})})
        try:
            time.sleep(1.0)
            m = {"idle": rss_kb(s.proc.pid)}
            assert post_predict(s.port, faces, image=img) == 200
            m["one_request"] = rss_kb(s.proc.pid)
            r = load(build, s, "faces", inp["face_images"], 4, load_s)
            m["after_load"] = rss_kb(s.proc.pid)
            m["load_rps"] = r["throughput_rps"]
            m["rss_series_mib"] = r["rss_series_mib"]
            for entries, kw in (({"clip": {"visual": {"modelName": "ViT-B-32__openai"}}}, {"image": img}),
                                ({"clip": {"textual": {"modelName": "ViT-B-32__openai"}}}, {"text": "a photo"}),
                                ({"facial-recognition": {"detection": {"modelName": "buffalo_l"},
                                                         "recognition": {"modelName": "buffalo_l"}}}, {"image": img})):
                assert post_predict(s.port, entries, **kw) == 200
            m["all_models"] = rss_kb(s.proc.pid)
            if kind == "focal":
                time.sleep(ttl + 3)
                m["after_ttl"] = rss_kb(s.proc.pid)
            out[kind] = m
        finally:
            s.stop()
    return out


def cold_start(build: Path, inp: dict, runs: int) -> dict:
    out = {}
    img = sorted(inp["clip_images"].iterdir())[0].read_bytes()
    for kind in ("focal", "python"):
        pings, firsts = [], []
        for _ in range(runs):
            s = Server(kind, build, inp["cache"])
            try:
                assert post_predict(s.port, {"clip": {"visual": {"modelName": "ViT-B-32__openai"}}}, image=img) == 200
                firsts.append(time.perf_counter() - s.t0)
                pings.append(s.ping_s)
            finally:
                s.stop()
        out[kind] = {"ping_ms": statistics.median(pings) * 1e3, "first_prediction_ms": statistics.median(firsts) * 1e3,
                     "ping_ms_all": [round(p * 1e3, 1) for p in pings]}
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", type=Path, default=ROOT / "build" / "release")
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("FOCAL_BENCH_DIR", "/tmp/focal-bench")))
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--concurrency", default="1,2,4,8")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--ttl", type=int, default=3)
    ap.add_argument("--memory-load-s", type=float, default=60.0, help="length of the faces load in the memory part")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: load, memory, cold")
    ap.add_argument("--memory-servers", default="focal,python", help="servers of the memory part")
    ap.add_argument("--focal-env", action="append", default=[], metavar="NAME=VALUE",
                    help="extra environment for focal-ml (e.g. FOCAL_ML_ORT_ARENA_SHRINK=true); repeatable")
    ap.add_argument("--json", type=Path, help="also write all raw results here")
    args = ap.parse_args()
    build = args.build.resolve()
    inp = prepare(args.work, build)
    conc = [int(c) for c in args.concurrency.split(",")]
    tasks = args.tasks.split(",")
    skip = set(filter(None, args.skip.split(",")))
    focal_env = dict(kv.split("=", 1) for kv in args.focal_env)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    res: dict = {"machine": f"{cpu}, {os.cpu_count()} cores", "load_before": open("/proc/loadavg").read().split()[:3],
                 "focal_env": focal_env, "runs": []}
    print(f"machine: {res['machine']}; load before: {res['load_before']}", flush=True)

    if "load" not in skip:
        servers = {"focal": Server("focal", build, inp["cache"], focal_env),
                   "python": Server("python", build, inp["cache"])}
        try:
            for r in range(args.rounds):
                for task in tasks:
                    for c in conc:
                        # Alternate which server goes first, so that neither always runs on a warmer machine.
                        order = ("focal", "python") if (r + c) % 2 == 0 else ("python", "focal")
                        for kind in order:
                            m = load(build, servers[kind], task, inp[TASKS[task][1]], c, args.seconds)
                            res["runs"].append({"round": r, "server": kind, **m})
        finally:
            for s in servers.values():
                s.stop()
    if "memory" not in skip:
        res["memory"] = memory(build, inp, args.ttl, args.memory_load_s, args.memory_servers.split(","), focal_env)
    if "cold" not in skip:
        res["cold_start"] = cold_start(build, inp, 5)
    res["load_after"] = open("/proc/loadavg").read().split()[:3]
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    report(res, tasks, conc, args.rounds)
    return 0


def med(res: dict, kind: str, task: str, c: int, key: str) -> float:
    return statistics.median(r[key] for r in res["runs"] if r["server"] == kind and r["task"] == task
                             and r["concurrency"] == c)


def stage_shares(res: dict, task: str) -> dict | None:
    """Shares of focal's request time at concurrency 1, from /metrics: decode, pre/post-processing, ORT Run."""
    totals: dict = {}
    for r in res["runs"]:
        if r["server"] == "focal" and r["task"] == task and r["concurrency"] == 1:
            for k, v in r.get("stages", {}).items():
                totals[k] = totals.get(k, 0.0) + v
    total = totals.get("total||", 0.0)
    if total <= 0:
        return None
    run = sum(v for k, v in totals.items() if k.startswith("inference|"))
    pre = sum(v for k, v in totals.items() if k.startswith("preprocess|"))
    decode = totals.get("decode||", 0.0)
    return {"decode": decode / total, "pre_post": pre / total, "run": run / total,
            "other": max(0.0, 1 - (decode + pre + run) / total), "outside_run": 1 - run / total}


def report(res: dict, tasks: list[str], conc: list[int], rounds: int) -> None:
    print(f"load after: {res['load_after']}\n")
    goals = []
    if res["runs"]:
        print(f"/predict, closed loop, median of {rounds} round(s); ratio = focal throughput / Python throughput; "
              "CPU = process CPU ms per request\n")
        print("| task | conc. | focal req/s | p50 ms | p99 ms | CPU ms/req | Python req/s | p50 ms | p99 ms "
              "| CPU ms/req | ratio |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for task in tasks:
            for c in conc:
                f, p = med(res, "focal", task, c, "throughput_rps"), med(res, "python", task, c, "throughput_rps")
                cells = [f"{f:.1f}"] + [f"{med(res, 'focal', task, c, k):.1f}" for k in
                                        ("p50_ms", "p99_ms", "cpu_ms_per_request")]
                cells += [f"{p:.1f}"] + [f"{med(res, 'python', task, c, k):.1f}" for k in
                                         ("p50_ms", "p99_ms", "cpu_ms_per_request")]
                print(f"| {task} | {c} | " + " | ".join(cells) + f" | {f / p:.2f}x |")
                want = 3.0 if task == "clip.textual" else 1.5
                goals.append((f"{task} throughput, concurrency {c}", f">= {want}x the reference", f"{f / p:.2f}x",
                              f / p >= want))
        print("\nWhere focal's request time goes at concurrency 1 (focal_ml_stage_seconds sums from /metrics)\n")
        print("| task | decode | pre/post-processing | ORT Run | other (parsing, queueing, JSON) | outside Run |")
        print("|---|---|---|---|---|---|")
        for task in tasks:
            sh = stage_shares(res, task)
            if sh:
                print(f"| {task} | {100 * sh['decode']:.1f}% | {100 * sh['pre_post']:.1f}% | {100 * sh['run']:.1f}% "
                      f"| {100 * sh['other']:.1f}% | {100 * sh['outside_run']:.1f}% |")
                goals.append((f"{task}: request time outside ORT Run", "<= 5%", f"{100 * sh['outside_run']:.1f}%",
                              sh["outside_run"] <= 0.05))
    if "memory" in res:
        m = res["memory"]
        print("\nMemory (MiB): idle, after one faces request, after the faces load at concurrency 4, after loading "
              "every model, after the TTL unload; VmHWM = peak\n")
        print("| server | idle | one request | after load | load req/s | all models | peak | after TTL |")
        print("|---|---|---|---|---|---|---|---|")
        for kind in m:
            x = m[kind]
            after = f"{x['after_ttl']['VmRSS'] / 1024:.1f}" if "after_ttl" in x else "-"
            print(f"| {kind} | {x['idle']['VmRSS'] / 1024:.1f} | {x['one_request']['VmRSS'] / 1024:.1f} | "
                  f"{x['after_load']['VmRSS'] / 1024:.1f} | {x['load_rps']:.1f} | {x['all_models']['VmRSS'] / 1024:.1f} | "
                  f"{x['all_models']['VmHWM'] / 1024:.1f} | {after} |")
        for kind in m:
            series = m[kind]["rss_series_mib"]
            step = max(1, len(series) // 12)
            print(f"\n{kind} RSS during the load (s, MiB): {series[::step]}")
        if "focal" in m and "python" in m:
            ratio = m["focal"]["after_load"]["VmRSS"] / m["python"]["after_load"]["VmRSS"]
            goals.append(("RSS after the faces load at concurrency 4", "<= 0.5x the reference", f"{ratio:.2f}x",
                          ratio <= 0.5))
        if "focal" in m:
            idle = m["focal"]["idle"]["VmRSS"] / 1024
            goals.append(("idle RSS", "<= 30 MiB", f"{idle:.1f} MiB", idle <= 30))
    if "cold_start" in res:
        print("\nCold start (median of 5; ms from process start)\n")
        print("| server | /ping answers | first clip.visual prediction answered | all /ping times |")
        print("|---|---|---|---|")
        for kind, x in res["cold_start"].items():
            print(f"| {kind} | {x['ping_ms']:.1f} | {x['first_prediction_ms']:.1f} | {x['ping_ms_all']} |")
    print("\nGoals\n")
    print("| goal | target | reached | met |")
    print("|---|---|---|---|")
    for name, target, reached, met in goals:
        print(f"| {name} | {target} | {reached} | {'yes' if met else 'no'} |")


if __name__ == "__main__":
    sys.exit(main())
