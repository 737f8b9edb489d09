"""Start a real ComfyUI server with this pack in a throwaway base directory, and talk to it over HTTP.

Used by the end-to-end tests, the demo and the benchmarks. Only loopback addresses are used.
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

from .paths import PACK_NAME, ROOT, comfyui_path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pack_folder(base):
    """The pack's folder as ComfyUI sees it in a base directory made by make_base_dir."""
    return os.path.join(base, "custom_nodes", PACK_NAME)


def make_base_dir(base=None):
    """A ComfyUI base directory whose custom_nodes/ holds a link to this pack."""
    base = base or tempfile.mkdtemp(prefix="dyweight-comfy-")
    os.makedirs(os.path.join(base, "custom_nodes"), exist_ok=True)
    link = pack_folder(base)
    if not os.path.islink(link):
        os.symlink(ROOT, link)
    return base


def error_message(entry):
    """The exception message of a failed prompt's history entry ("" if it did not fail in a node)."""
    for kind, data in entry["status"].get("messages", []):
        if kind == "execution_error":
            return data["exception_message"]
    return ""


IMPORT_FAILURE = re.compile(r"Cannot import (\S+) module for custom nodes|\(IMPORT FAILED\): (\S+)")


def pack_import_failures(log, pack_dir):
    """The start-up log's custom-node import failures that are this pack's: judged by the module path ComfyUI
    names, never by a substring of it (a clone named ComfyUI-DyWeight holds ComfyUI itself under .cache/, and
    ComfyUI's own optional nodes, such as the audio ones without torchaudio, fail to import there)."""
    failures = []
    for line in log.splitlines():
        match = IMPORT_FAILURE.search(line)
        if match and os.path.normpath(match.group(1) or match.group(2)) == os.path.normpath(pack_dir):
            failures.append(line)
    return failures


class ComfyServer:
    def __init__(self, base=None, port=None, extra_args=(), comfyui_dir=None):
        """comfyui_dir: the ComfyUI to run (default: comfyui_path()), reached through whatever path is given."""
        self.comfyui_dir = comfyui_dir or comfyui_path()
        self.base = make_base_dir(base)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.base, "server.log")
        self.extra_args = list(extra_args)
        self.proc = None

    def start(self, timeout=120):
        cmd = [sys.executable, os.path.join(self.comfyui_dir, "main.py"), "--cpu", "--listen", "127.0.0.1",
               "--port", str(self.port), "--base-directory", self.base, "--disable-auto-launch", *self.extra_args]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.comfyui_dir)
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
