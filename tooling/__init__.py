"""Developer tooling shared by the tests, benchmarks and scripts (never loaded by ComfyUI).

Run from the repository root: `python -m scripts.demo`, `python -m benchmarks.photos_quality`; pytest gets the
root on its path from pyproject.toml. `tooling.pack.load_pack` is the one place that puts ComfyUI on sys.path.

    paths            the repository, ../shared and the ComfyUI that scripts/bootstrap.sh fetched
    pack             the real ComfyUI in-process, and the pack imported as ComfyUI imports it
    server           a real ComfyUI server with the pack, over HTTP
    samplers         the built-in samplers every comparison runs against
    measure          peak memory of a block of work
    workflow_format  ComfyUI's UI and API workflow formats
"""
