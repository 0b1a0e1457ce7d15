#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""End-to-end benchmark of focal-ml, measured against baselines taken in the same run (see bench/run_e2e.sh).

1. /predict throughput and p50/p99 latency at several concurrencies for clip.visual, clip.textual and faces
   (bench/predict_load, closed loop, keep-alive connections), 1440 px JPEG previews.
2. The same work in-process on the same inputs (bench/clip_visual_bench, clip_textual_bench, faces_bench:
   decode, pre-processing, ORT Run, post-processing) -> the request overhead of the HTTP service.
3. The same load against tools/reference_server.py (Pillow + numpy + onnxruntime, same ORT threads) -> ratio.
4. Memory: VmRSS/VmHWM idle after start, after loading the models, after the TTL unload.
5. Cold start: process start -> /ping answers -> first prediction answered.

    python bench/run_e2e.py --build build/release [--seconds 4] [--rounds 2] [--concurrency 1,2,4,16]
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
import time
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
    # 40 CLIP previews (the same files for the HTTP load and the in-process bench).
    clip_images = work / "e2e-clip-previews"
    if not clip_images.is_dir():
        clip_images.mkdir()
        for p in sorted((work / "previews").iterdir())[:40]:
            (clip_images / p.name).symlink_to(p)
    # One model cache for both servers: generated CLIP and buffalo_l, and buffalo_s made of the real SCRFD-500M and
    # MobileFaceNet networks from shared/testdata (copied: a recognizer file may be rewritten in place).
    cache = work / "e2e-cache"
    if not cache.is_dir():
        (cache / "clip").mkdir(parents=True)
        (cache / "clip" / "ViT-B-32__openai").symlink_to(work / "models" / "clip" / "ViT-B-32__openai")
        fr = cache / "facial-recognition"
        fr.mkdir()
        (fr / "buffalo_l").symlink_to(work / "models" / "facial-recognition" / "buffalo_l")
        for kind, src in (("detection", "scrfd-500m.onnx"), ("recognition", "mobilefacenet-128d.onnx")):
            (fr / "buffalo_s" / kind).mkdir(parents=True)
            shutil.copyfile(TESTDATA / "models" / src, fr / "buffalo_s" / kind / "model.onnx")
            (fr / "buffalo_s" / kind / "model.onnx").chmod(0o644)
    return {"cache": cache, "clip_images": clip_images, "face_images": work / "face-previews",
            "queries": ROOT / "bench" / "queries.txt", "models": work / "models"}


def load(build: Path, port: int, task: str, inputs: Path, concurrency: int, seconds: float) -> dict:
    model = TASKS[task][0]
    out = subprocess.run([str(build / "bench" / "predict_load"), "--port", str(port), "--task", task, "--model", model,
                          "--inputs", str(inputs), "--concurrency", str(concurrency), "--seconds", str(seconds),
                          "--warmup", "1"], capture_output=True, text=True)
    r = json.loads(out.stdout)
    if r.get("errors"):
        raise RuntimeError(f"{task} c={concurrency}: {r}")
    return r


def in_process(build: Path, inp: dict) -> dict:
    def run(args):
        return json.loads(subprocess.run([str(a) for a in args], capture_output=True, text=True, check=True).stdout)

    b = build / "bench"
    clip = inp["cache"] / "clip" / "ViT-B-32__openai"
    fr = inp["cache"] / "facial-recognition" / "buffalo_s"
    v = run([b / "clip_visual_bench", clip / "visual", inp["clip_images"], 3])
    t = run([b / "clip_textual_bench", clip / "textual", inp["queries"], 20])
    f = run([b / "faces_bench", fr / "detection" / "model.onnx", fr / "recognition" / "model.onnx",
             inp["face_images"], 1, 0.7])
    fm = f["per_image_ms"]
    return {
        "clip.visual": {"total_ms": v["decode_ms"] + v["preprocess_ms"] + v["run_ms"] + v["serialize_ms"],
                        "run_ms": v["run_ms"]},
        "clip.textual": {"total_ms": t["tokenize_ms"] + t["run_ms"] + t["serialize_ms"], "run_ms": t["run_ms"]},
        "faces": {"total_ms": sum(fm.values()), "run_ms": fm["det_run"] + fm["rec_run"]},
    }


def memory(build: Path, inp: dict, ttl: int) -> dict:
    env = {"MACHINE_LEARNING_MODEL_TTL": str(ttl), "MACHINE_LEARNING_MODEL_TTL_POLL_S": "1"}
    out = {}
    for kind in ("focal", "python"):
        s = Server(kind, build, inp["cache"], env)
        try:
            time.sleep(1.0)
            m = {"idle": rss_kb(s.proc.pid)}
            img = sorted(inp["face_images"].iterdir())[0].read_bytes()
            for entries, kw in (({"clip": {"visual": {"modelName": "ViT-B-32__openai"}}}, {"image": img}),
                                ({"clip": {"textual": {"modelName": "ViT-B-32__openai"}}}, {"text": "a photo"}),
                                *[({"facial-recognition": {"detection": {"modelName": n}, "recognition": {"modelName": n}}},
                                   {"image": img}) for n in ("buffalo_l", "buffalo_s")]):
                assert post_predict(s.port, entries, **kw) == 200
            m["loaded"] = rss_kb(s.proc.pid)
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
    ap.add_argument("--concurrency", default="1,2,4,16")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--ttl", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write all raw results here")
    args = ap.parse_args()
    build = args.build.resolve()
    inp = prepare(args.work, build)
    conc = [int(c) for c in args.concurrency.split(",")]
    tasks = args.tasks.split(",")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"machine: {cpu}, {os.cpu_count()} cores; load before: {open('/proc/loadavg').read().split()[:3]}")
    res: dict = {"load": {}, "runs": []}

    servers = {"focal": Server("focal", build, inp["cache"]), "python": Server("python", build, inp["cache"])}
    try:
        for r in range(args.rounds):
            for task in tasks:
                for c in conc:
                    for kind, s in servers.items():
                        m = load(build, s.port, task, inp[TASKS[task][1]], c, args.seconds)
                        res["runs"].append({"round": r, "server": kind, **m})
    finally:
        for s in servers.values():
            s.stop()
    res["in_process"] = in_process(build, inp)
    res["memory"] = memory(build, inp, args.ttl)
    res["cold_start"] = cold_start(build, inp, 5)
    res["load_after"] = open("/proc/loadavg").read().split()[:3]
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    report(res, tasks, conc, args.rounds)
    return 0


def report(res: dict, tasks: list[str], conc: list[int], rounds: int) -> None:
    def med(kind, task, c, key):
        return statistics.median(r[key] for r in res["runs"] if r["server"] == kind and r["task"] == task
                                 and r["concurrency"] == c)

    print(f"load after: {res['load_after']}\n")
    print(f"/predict, closed loop, median of {rounds} round(s); ratio = focal throughput / Python throughput\n")
    print("| task | conc. | focal req/s | focal p50 ms | focal p99 ms | Python req/s | Python p50 ms | Python p99 ms | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for task in tasks:
        for c in conc:
            f, p = med("focal", task, c, "throughput_rps"), med("python", task, c, "throughput_rps")
            print(f"| {task} | {c} | {f:.1f} | {med('focal', task, c, 'p50_ms'):.2f} | {med('focal', task, c, 'p99_ms'):.2f} "
                  f"| {p:.1f} | {med('python', task, c, 'p50_ms'):.2f} | {med('python', task, c, 'p99_ms'):.2f} | {f / p:.2f}x |")
    print("\nRequest overhead at concurrency 1: HTTP mean latency vs the same pipeline in-process (same inputs)\n")
    print("| task | HTTP mean ms | in-process ms | of which ORT Run ms | overhead ms | overhead / Run | overhead / pipeline |")
    print("|---|---|---|---|---|---|---|")
    for task in tasks:
        if 1 not in conc:
            break
        e2e = med("focal", task, 1, "mean_ms")
        ip = res["in_process"][task]
        ov = e2e - ip["total_ms"]
        print(f"| {task} | {e2e:.2f} | {ip['total_ms']:.2f} | {ip['run_ms']:.2f} | {ov:.2f} | "
              f"{100 * ov / ip['run_ms']:.0f}% | {100 * ov / ip['total_ms']:.1f}% |")
    m = res["memory"]
    print("\nMemory (MiB; VmHWM = peak)\n")
    print("| server | idle RSS | RSS after loading all models | peak | RSS after TTL unload |")
    print("|---|---|---|---|---|")
    for kind in ("focal", "python"):
        x = m[kind]
        after = f"{x['after_ttl']['VmRSS'] / 1024:.1f}" if "after_ttl" in x else "-"
        print(f"| {kind} | {x['idle']['VmRSS'] / 1024:.1f} | {x['loaded']['VmRSS'] / 1024:.1f} | "
              f"{x['loaded']['VmHWM'] / 1024:.1f} | {after} |")
    print("\nCold start (median of 5; ms from process start)\n")
    print("| server | /ping answers | first clip.visual prediction answered | all /ping times |")
    print("|---|---|---|---|")
    for kind, x in res["cold_start"].items():
        print(f"| {kind} | {x['ping_ms']:.1f} | {x['first_prediction_ms']:.1f} | {x['ping_ms_all']} |")


if __name__ == "__main__":
    sys.exit(main())
