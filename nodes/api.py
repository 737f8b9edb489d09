"""The one place the pack names ComfyUI's node API: the versioned `comfy_api.v0_0_2` (ComfyUI 0.3.75),
not `latest`, so upstream changes to `latest` do not break the pack."""
from comfy_api.v0_0_2 import ComfyExtension, io, ui  # noqa: F401
