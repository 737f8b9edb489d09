"""What users see, in the real ComfyUI frontend (headless Chromium through Playwright, the system browser,
no download): every shipped workflow loads through the UI's own loader, converts with graphToPrompt (the
Queue button's path) to exactly its API-format copy, passes the server's validation, and the one on the
built-in model runs. A DyWeight Calibrate added from the node menu keeps its seed. Screenshots go to
$DYWEIGHT_SCREENSHOTS (the README's UI pictures come from there) or a temporary folder."""
import glob
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
UI_FILES = sorted(glob.glob(os.path.join(ROOT, "workflows", "*.json")))
CHROMIUM = os.environ.get("DYWEIGHT_CHROMIUM", "/usr/lib/chromium/chromium")
RUNS_HERE = {"DyWeight demo (built-in model)", "DyWeight table inside the workflow", "DyWeight split run (two KSamplerAdvanced)"}  # needs no downloaded checkpoint
USER_FILES = {"checkpoints": ["v1-5-pruned-emaonly.safetensors"], "diffusion_models": ["flux1-dev.safetensors"],
              "text_encoders": ["t5xxl_fp16.safetensors", "clip_l.safetensors"], "vae": ["ae.safetensors"]}

TO_PROMPT = "async (wf) => { await window.app.loadGraphData(wf); return (await window.app.graphToPrompt()).output; }"
FIT_VIEW = "async () => { try { await window.app.extensionManager.command.execute('Comfy.Canvas.FitView'); } catch (e) {} }"


@pytest.fixture(scope="module")
def frontend(server, tmp_path_factory):
    """Everything the browser does, done once: each workflow loaded and converted (with a screenshot), and a
    Calibrate node added from the registry. The browser is closed before anything is queued: on two cores
    its rendering starves the server."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: scripts/bootstrap.sh installs Debian's chromium package")
    from playwright.sync_api import sync_playwright
    shots = os.environ.get("DYWEIGHT_SCREENSHOTS") or str(tmp_path_factory.mktemp("screenshots"))
    os.makedirs(shots, exist_ok=True)
    seen = {"prompts": {}, "shots": shots}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        server.post("/settings/Comfy.TutorialCompleted", True)  # no first-run templates dialog over the canvas
        page.goto(server.url)
        page.wait_for_function("window.app && window.app.graph && window.LiteGraph", timeout=120_000)
        for path in UI_FILES:
            name = os.path.basename(path)[:-5]
            seen["prompts"][name] = page.evaluate(TO_PROMPT, json.load(open(path)))
            seen.setdefault("titles", {})[name] = page.evaluate("() => app.graph._nodes.map(n => [n.type, n.title])")
            page.evaluate(FIT_VIEW)
            page.wait_for_timeout(500)
            page.screenshot(path=os.path.join(shots, f"{name}.png"))
        seen["calibrate_widgets"] = page.evaluate(
            "() => { app.graph.clear(); const n = LiteGraph.createNode('DyWeightCalibrate'); n.pos = [400, 300];"
            " app.graph.add(n); app.canvas.selectNode(n); app.canvas.setDirty(true, true);"
            " return n.widgets.map(w => [w.name, w.value]); }")
        page.locator('[data-testid="info-button"]').first.click()  # the selection toolbox's node help
        page.wait_for_function("() => document.body.innerText.includes('Learns a DyWeight table')", timeout=30_000)
        seen["help_headings"] = page.evaluate("() => Array.from(document.querySelectorAll('h1, h2')).map(h => h.innerText)")
        page.screenshot(path=os.path.join(shots, "help_DyWeightCalibrate.png"))
        browser.close()
    return seen


def stand_in_model_files(server):
    """Empty files named like the user's models, so workflows that need them pass validation."""
    for folder, names in USER_FILES.items():
        os.makedirs(os.path.join(server.base, "models", folder), exist_ok=True)
        for name in names:
            open(os.path.join(server.base, "models", folder, name), "ab").close()


@pytest.mark.parametrize("path", UI_FILES, ids=os.path.basename)
def test_workflow_loads_converts_and_queues_in_the_real_frontend(server, frontend, path):
    name = os.path.basename(path)[:-5]
    prompt = frontend["prompts"][name]
    api = json.load(open(os.path.join(ROOT, "workflows", "api", name + ".json")))
    for nid, node in api.items():
        if node["class_type"].startswith("DyWeight"):
            assert prompt[nid]["inputs"] == node["inputs"], f"{name} node {nid} {node['class_type']}"
        else:  # stock nodes: the frontend may add UI-only widgets (PreviewAny's "preview"), nothing else differs
            assert {k: prompt[nid]["inputs"].get(k) for k in node["inputs"]} == node["inputs"], f"{name} node {nid}"
    assert set(prompt) == set(api) and all(prompt[k]["class_type"] == api[k]["class_type"] for k in api)
    assert os.path.getsize(os.path.join(frontend["shots"], f"{name}.png")) > 10_000
    stand_in_model_files(server)
    answer = server.queue(prompt)
    assert "prompt_id" in answer and not answer.get("node_errors"), json.dumps(answer)[:2000]  # passed validation
    entry = server.wait(answer["prompt_id"])
    if name in RUNS_HERE:
        assert entry["status"]["status_str"] == "success", entry["status"]


def test_workflow_nodes_show_display_names_not_class_ids(server, frontend):
    info = server.get("/object_info")
    for name, titles in frontend["titles"].items():
        ui = json.load(open(os.path.join(ROOT, "workflows", name + ".json")))
        explicit = {n["title"] for n in ui["nodes"] if "title" in n}  # only where a title says more
        assert not explicit & set(info), f"{name}: a title that is a class id"
        for node_type, title in titles:  # (nodes without a display name show their id, as ComfyUI's own do)
            assert title in explicit or title == (info[node_type].get("display_name") or node_type), (name, node_type, title)


def test_calibrate_added_from_the_node_menu_keeps_its_seed(frontend):
    """The frontend gives every INT named seed a 'control after generate' widget set to randomize unless
    the input declares otherwise: a re-randomised seed would recalibrate on every queue."""
    widgets = frontend["calibrate_widgets"]
    names = [n for n, _ in widgets]
    assert "control_after_generate" not in names and dict(widgets)["seed"] == 0
    assert names[:6] == ["steps", "scheduler", "cfg", "teacher_steps", "iterations", "seed"]
    # the knobs start at 0 ("from quality"), the preset and learned sigmas are on, widgets after the older ones
    assert dict(widgets)["samples"] == 0 and dict(widgets)["learning_rate"] == 0
    assert dict(widgets)["quality"] == "balanced" and dict(widgets)["learn_sigmas"] is True
    assert names[-5:] == ["learn_sigmas", "quality", "step_counts", "minutes", "switch_step"]  # new inputs last: saved workflows list by position
    assert dict(widgets)["step_counts"] == "" and dict(widgets)["minutes"] == 0 and dict(widgets)["switch_step"] == 0


def test_node_help_page_renders_in_the_help_panel(frontend):
    """The pack's web/docs/DyWeightCalibrate.md, shown by the frontend's node help (the (i) of the selection toolbox)."""
    assert "DyWeight Calibrate" in frontend["help_headings"] and {"Inputs", "Connect"} <= set(frontend["help_headings"])


REPORT_PICTURE_NODE = "12"  # the demo workflow's Preview Image of DyWeight Calibrate's report_image


def test_the_calibration_report_picture_shows_in_the_demo_workflow(server, frontend):
    """Queued from the page (the Queue button's path), the built-in model's workflow calibrates, and its Preview Image
    node shows Calibrate's report picture: the fallback, the calibrated table and the teacher on test noises."""
    from playwright.sync_api import sync_playwright
    workflow = json.load(open(os.path.join(ROOT, "workflows", "DyWeight demo (built-in model).json")))
    assert any(str(n["id"]) == REPORT_PICTURE_NODE and n["type"] == "PreviewImage" for n in workflow["nodes"])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(server.url)
        page.wait_for_function("window.app && window.app.graph && window.LiteGraph", timeout=120_000)
        page.evaluate("async (wf) => { await window.app.loadGraphData(wf); await window.app.queuePrompt(0, 1); }", workflow)
        shown = f"() => ((window.app.nodeOutputs['{REPORT_PICTURE_NODE}'] || {{}}).images || []).length"
        page.wait_for_function(shown, timeout=600_000, polling=2000)
        image = page.evaluate(f"() => window.app.nodeOutputs['{REPORT_PICTURE_NODE}'].images[0]")
        page.evaluate(FIT_VIEW)
        page.wait_for_timeout(1000)
        page.screenshot(path=os.path.join(frontend["shots"], "calibration_report_picture.png"))
        browser.close()
    import urllib.parse
    import urllib.request
    from PIL import Image
    with urllib.request.urlopen(f"{server.url}/view?{urllib.parse.urlencode(image)}") as r:
        picture = Image.open(r)
        picture.load()
    assert picture.width >= 300 and picture.height >= 300  # the bars and a panel of 4 noises x 3 columns
