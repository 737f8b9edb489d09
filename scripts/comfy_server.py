"""Start a real ComfyUI server with this pack in a throwaway base directory, and talk to it over HTTP.

Used by the end-to-end tests, the demo and the benchmarks. Only loopback addresses are used.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
PACK_NAME = "ComfyUI-DyWeight"


def comfyui_path():
    path = os.environ.get("COMFYUI_PATH")
    if not path:
        with open(os.path.join(ROOT, ".cache", "comfyui-path")) as f:
            path = f.read().strip()
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_base_dir(base=None):
    """A ComfyUI base directory whose custom_nodes/ holds a link to this pack."""
    base = base or tempfile.mkdtemp(prefix="dyweight-comfy-")
    os.makedirs(os.path.join(base, "custom_nodes"), exist_ok=True)
    link = os.path.join(base, "custom_nodes", PACK_NAME)
    if not os.path.islink(link):
        os.symlink(ROOT, link)
    return base


class ComfyServer:
    def __init__(self, base=None, port=None, extra_args=()):
        self.base = make_base_dir(base)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.base, "server.log")
        self.extra_args = list(extra_args)
        self.proc = None

    def start(self, timeout=120):
        cmd = [sys.executable, os.path.join(comfyui_path(), "main.py"), "--cpu", "--listen", "127.0.0.1",
               "--port", str(self.port), "--base-directory", self.base, "--disable-auto-launch", *self.extra_args]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=comfyui_path())
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited at start-up:\n{self.read_log()[-3000:]}")
            try:
                self.get("/object_info/KSampler")
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        raise TimeoutError(f"ComfyUI did not answer in {timeout}s:\n{self.read_log()[-3000:]}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if getattr(self, "log", None):
            self.log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def read_log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return json.loads(r.read())

    def post(self, path, payload):
        req = urllib.request.Request(self.url + path, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return {"http_error": e.code, **json.loads(e.read() or b"{}")}

    def queue(self, prompt):
        return self.post("/prompt", {"prompt": prompt, "client_id": uuid.uuid4().hex})

    def wait(self, prompt_id, timeout=600):
        deadline = time.time() + timeout
        while time.time() < deadline:
            hist = self.get(f"/history/{prompt_id}")
            if prompt_id in hist and hist[prompt_id].get("status", {}).get("completed") is not None:
                entry = hist[prompt_id]
                if entry["status"].get("status_str") in ("success", "error"):
                    return entry
            time.sleep(0.25)
        raise TimeoutError(f"prompt {prompt_id} did not finish in {timeout}s")

    def run(self, prompt, timeout=600):
        """Queue an API-format prompt and wait for it; returns the history entry."""
        answer = self.queue(prompt)
        if "prompt_id" not in answer:
            raise RuntimeError(f"prompt refused: {json.dumps(answer)[:2000]}")
        return self.wait(answer["prompt_id"], timeout)

    def output_files(self, entry):
        files = []
        for node_out in entry.get("outputs", {}).values():
            for img in node_out.get("images", []):
                files.append(os.path.join(self.base, img.get("type", "output"), img.get("subfolder", ""), img["filename"]))
        return files
