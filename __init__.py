"""ComfyUI-DyWeight: registers the `dyweight` sampler and scheduler, the DyWeight nodes, the built-in demo
network's model family, and the release of its calibration caches with ComfyUI's "free memory". Nothing else."""
import logging
import sys

WEB_DIRECTORY = "./web"  # the nodes' help pages: web/docs/<NodeId>.md

# Outside ComfyUI (pytest imports every package __init__ it walks through) there is nothing to register.
if "folder_paths" in sys.modules:
    try:
        from .nodes import NODES
        from .nodes.api import ComfyExtension
        from .nodes.teacher_cache import release_teacher_caches_with_models
        from .nodes.photos import register_model_family
        from .nodes.sampler import register_sampler
        from .nodes.table_folders import register_folder

        register_folder()
        register_model_family()
        register_sampler()
        release_teacher_caches_with_models()
    except Exception as e:  # an older or newer ComfyUI: say why in one line instead of registering nothing silently
        logging.error(f"[DyWeight] cannot register with this ComfyUI ({type(e).__name__}: {e}); "
                      f"the pack needs ComfyUI 0.3.75 or newer with comfy_api.v0_0_2")
    else:
        class DyWeightExtension(ComfyExtension):
            async def get_node_list(self):
                return NODES

        async def comfy_entrypoint():
            return DyWeightExtension()
