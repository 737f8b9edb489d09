"""The teacher endpoints of recent calibration setups, kept on the CPU so recalibrating another step count of the
same setup skips the teacher solve; ComfyUI's "free memory" releases them."""
import collections
import hashlib

import comfy.model_management

from .model_info import feed_hash


def content_hash(obj):
    """A key for conditioning and latents: tensors by full value, everything else by content."""
    h = hashlib.sha256()
    feed_hash(h, obj)
    return h.hexdigest()


TEACHER_CACHES = collections.OrderedDict()  # recent calibration setups -> their teacher endpoints


def teacher_cache(key, keep=2):
    """The teacher cache of a setup (model, conditioning, cfg, noises): recalibrating it for another
    step count of the same schedule reuses the teacher solve."""
    cache = TEACHER_CACHES.pop(key, None) or {}
    TEACHER_CACHES[key] = cache
    while len(TEACHER_CACHES) > keep:
        TEACHER_CACHES.popitem(last=False)
    return cache


def release_teacher_caches_with_models():
    """ComfyUI's "free memory" / "unload models" (the /free endpoint) ends in unload_all_models: let it drop
    the teacher caches too. Chained once, in place; the original runs first and unchanged."""
    original = comfy.model_management.unload_all_models
    if getattr(original, "releases_dyweight_caches", False):
        return

    def unload_all_models(*args, **kwargs):
        result = original(*args, **kwargs)
        TEACHER_CACHES.clear()
        return result
    unload_all_models.releases_dyweight_caches = True
    comfy.model_management.unload_all_models = unload_all_models
