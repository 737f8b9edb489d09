"""Where a benchmark's results go: printed, and written as results/<name>.md (the table a page quotes) beside
results/<name>.json (the numbers behind it)."""
import json
import os


def write_results(out, name, text, data):
    print(text)
    os.makedirs(out, exist_ok=True)
    json.dump(data, open(os.path.join(out, f"{name}.json"), "w"), indent=1)
    open(os.path.join(out, f"{name}.md"), "w").write(text + "\n")
