"""API-format prompts <-> UI-format (LiteGraph) workflows, driven by a server's /object_info.

UI workflows list widget values per node in input order (required, then optional), with one extra
value after any input that gets a "control after generate" widget; links carry the connected inputs.
The frontend adds that widget where an input declares control_after_generate, and to every INT input
named seed or noise_seed that does not declare it (frontend 1.32: `spec.control_after_generate ??
["seed", "noise_seed"].includes(name)`). The browser test checks this file against the real frontend."""
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
SEED_NAMES = ("seed", "noise_seed")


def has_control_widget(name, kind, opts):
    declared = opts.get("control_after_generate")
    if declared is None:
        return kind == "INT" and name in SEED_NAMES
    return bool(declared)


def input_specs(info):
    """[(name, type, options)] of a node, required then optional, as /object_info lists them."""
    out = []
    for section in ("required", "optional"):
        for name in info["input_order"].get(section, []) if "input_order" in info else info["input"].get(section, {}):
            spec = info["input"][section][name]
            kind = "COMBO" if isinstance(spec[0], list) else spec[0]
            out.append((name, kind, spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}))
    return out


def is_widget(kind):
    return kind in WIDGET_TYPES


def ui_to_api(ui, object_info):
    links = {link[0]: link for link in ui["links"]}
    prompt = {}
    for node in ui["nodes"]:
        if node.get("mode", 0) != 0:
            continue
        info = object_info[node["type"]]
        values = list(node.get("widgets_values", []))
        connected = {i["name"]: i.get("link") for i in node.get("inputs", [])}
        inputs = {}
        for name, kind, opts in input_specs(info):
            if connected.get(name) is not None:
                _, src, slot = links[connected[name]][:3]
                inputs[name] = [str(src), slot]
            elif is_widget(kind) and values:
                inputs[name] = values.pop(0)
                if has_control_widget(name, kind, opts):
                    values.pop(0)
        title = node.get("title") or info.get("display_name") or node["type"]
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs, "_meta": {"title": title}}
    return prompt


def api_to_ui(prompt, object_info, layout):
    """layout: {node_id: (x, y)}; returns a UI-format workflow the ComfyUI frontend loads."""
    nodes, links = [], []
    out_links = {}
    for nid, node in prompt.items():
        for name, value in node["inputs"].items():
            if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
                src, slot = value
                kind = object_info[prompt[src]["class_type"]]["output"][slot]
                link_id = len(links) + 1
                links.append([link_id, int(src), slot, int(nid), name, kind])
                out_links.setdefault((src, slot), []).append(link_id)
    for order, (nid, node) in enumerate(prompt.items()):
        info = object_info[node["class_type"]]
        inputs, widgets = [], []
        for name, kind, opts in input_specs(info):
            value = node["inputs"].get(name)
            if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
                link_id = next(l[0] for l in links if l[3] == int(nid) and l[4] == name)
                inputs.append({"name": name, "type": kind, "link": link_id})
            elif is_widget(kind):
                widgets.append(value if value is not None else opts.get("default"))
                if has_control_widget(name, kind, opts):
                    widgets.append("fixed")
        outputs = [{"name": oname, "type": kind, "links": out_links.get((nid, slot), []), "slot_index": slot}
                   for slot, (kind, oname) in enumerate(zip(info["output"], info.get("output_name", info["output"])))]
        x, y = layout.get(nid, (order * 320, 0))
        titled = {"title": node["_meta"]["title"]} if node.get("_meta", {}).get("title") else {}  # else the UI shows the display name
        nodes.append({"id": int(nid), "type": node["class_type"], **titled, "pos": [x, y], "size": [300, 60 + 24 * (len(inputs) + len(widgets))], "flags": {}, "order": order,
                      "mode": 0, "inputs": inputs, "outputs": outputs, "properties": {"Node name for S&R": node["class_type"]},
                      "widgets_values": widgets})
    for link in links:  # UI links name the target slot by index
        target = next(n for n in nodes if n["id"] == link[3])
        link[4] = next(k for k, i in enumerate(target["inputs"]) if i["link"] == link[0])
    return {"last_node_id": max(n["id"] for n in nodes), "last_link_id": len(links), "nodes": nodes, "links": links,
            "groups": [], "config": {}, "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}}, "version": 0.4}
