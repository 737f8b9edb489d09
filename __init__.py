"""ComfyUI-DyWeight: registers the `dyweight` sampler and the DyWeight nodes. Nothing else."""
import importlib.util

# Outside ComfyUI (pytest imports every package __init__ it walks through) there is nothing to register.
if importlib.util.find_spec("comfy_api") is not None:
    from comfy_api.latest import ComfyExtension

    from .nodes import NODES
    from .nodes.sampler import register_folder, register_sampler

    register_folder()
    register_sampler()

    class DyWeightExtension(ComfyExtension):
        async def get_node_list(self):
            return NODES

    async def comfy_entrypoint():
        return DyWeightExtension()
