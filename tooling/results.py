"""Where a benchmark's results go: printed, and written as results/<name>.md (the table a page quotes) beside
results/<name>.json (the numbers behind it)."""
import json
import os


def write_results(out, name, text, data):
    print(text)
    os.makedirs(out, exist_ok=True)
    json.dump(data, open(os.path.join(out, f"{name}.json"), "w"), indent=1)
    open(os.path.join(out, f"{name}.md"), "w").write(text + "\n")


def bold_best(errors, digits=4):
    """A table row's cells for {name: error}, the lowest in bold."""
    best = min(errors, key=errors.get)
    return [f"**{e:.{digits}f}**" if name == best else f"{e:.{digits}f}" for name, e in errors.items()]
