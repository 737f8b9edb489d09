"""The pack as the Comfy Registry sees it: `comfy node validate` (the comfy-cli that bootstrap installs)
passes, and pyproject.toml follows the Registry specification."""
import os
import re
import subprocess
import sys
import tomllib

from tooling.paths import ROOT


def test_comfy_node_validate_passes():
    comfy = os.path.join(os.path.dirname(sys.executable), "comfy")
    res = subprocess.run([comfy, "--skip-prompt", "node", "validate"], cwd=ROOT, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=300, env=dict(os.environ, PATH=os.path.dirname(sys.executable) + ":" + os.environ["PATH"]))
    out = res.stdout + res.stderr  # rich prints its verdict to either
    assert res.returncode == 0, out
    assert "All validation checks passed successfully" in out and "Security warnings" not in out


def test_pyproject_follows_the_registry_specification():
    meta = tomllib.load(open(os.path.join(ROOT, "pyproject.toml"), "rb"))
    project, comfy = meta["project"], meta["tool"]["comfy"]
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*([-_.][A-Za-z0-9]+)*", project["name"]) and len(project["name"]) < 100
    assert "comfyui" not in project["name"].lower()  # the spec advises against it: it is the install id
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])
    assert os.path.isfile(os.path.join(ROOT, project["license"]["file"]))
    assert "Repository" in project["urls"]  # filled at publication (README, Install)
    assert comfy["PublisherId"] and comfy["DisplayName"] and os.path.isfile(os.path.join(ROOT, comfy["Icon"]))
    assert all(os.path.isdir(os.path.join(ROOT, d)) for d in comfy["includes"])


def test_requires_comfyui_admits_the_comfyui_the_suite_tests():
    from packaging.specifiers import SpecifierSet
    from tooling.paths import comfyui_path
    required = tomllib.load(open(os.path.join(ROOT, "pyproject.toml"), "rb"))["tool"]["comfy"]["requires-comfyui"]
    tested = re.search(r'__version__ = "([^"]+)"', open(os.path.join(comfyui_path(), "comfyui_version.py")).read()).group(1)
    assert tested in SpecifierSet(required), (tested, required)
    assert f"Tested against ComfyUI {tested}" in open(os.path.join(ROOT, "README.md")).read()
