"""The built-in trained network: ComfyUI detects and loads the shipped file like a checkpoint, and it draws
pictures that look like the photographs it learned (their colours, class by class)."""
import os

import pytest
import torch



def test_comfyui_detects_and_loads_the_shipped_weights_as_a_checkpoint(pack):
    import comfy.ldm.modules.attention
    import comfy.model_detection
    import comfy.model_sampling
    import comfy.utils
    import folder_paths
    from comfyui_dyweight.dyweight_core import photos
    from comfyui_dyweight.nodes.photos import DyWeightPhotos32, load_photos_model

    assert os.path.getsize(photos.WEIGHTS) < 4 * 2 ** 20
    state_dict = comfy.utils.load_torch_file(photos.WEIGHTS)
    assert type(comfy.model_detection.model_config_from_unet(state_dict, "")) is DyWeightPhotos32
    assert photos.FILE_NAME in folder_paths.get_filename_list("diffusion_models")  # the stock Load Diffusion Model lists it
    with torch.inference_mode():
        model = load_photos_model()
    assert isinstance(model.model.model_config, DyWeightPhotos32)
    assert isinstance(model.get_model_object("model_sampling"), comfy.model_sampling.V_PREDICTION)
    attention = [m for m in model.model.diffusion_model.modules() if isinstance(m, comfy.ldm.modules.attention.SpatialTransformer)]
    assert len(attention) >= 3  # self- and cross-attention at 8x8, 4x4 and in the middle
    assert 1e6 < sum(p.numel() for p in model.model.diffusion_model.parameters()) < 2e6


def test_samples_have_the_colours_of_the_photograph_they_were_asked_for(pack):
    """Per class: mean and spread of each colour over 8 samples, nearest to that class's training patches."""
    pytest.importorskip("skimage.data")  # installed by make setup
    import comfy.sample
    from comfyui_dyweight.dyweight_core import photos
    from comfyui_dyweight.nodes.photos import DyWeightPhotosModel
    from scripts.train_photos_model import photographs, random_patches

    features = lambda pictures: torch.cat([pictures.mean((0, 2, 3)), pictures.std((2, 3)).mean(0)])
    images, gen = photographs("cpu"), torch.Generator().manual_seed(0)
    data = torch.stack([features(random_patches(images, torch.full((256,), k), gen)) for k in range(len(images))])
    with torch.inference_mode():
        model, _, negative, latent = DyWeightPhotosModel.execute("cat", 8).result[:4]
        drawn = []
        for k in range(len(photos.CLASSES)):
            noise = torch.randn(latent["samples"].shape, generator=torch.Generator().manual_seed(k))
            out = comfy.sample.sample(model, noise, 30, 3.0, "ipndm", "karras", [[photos.class_context([k]), {}]], negative,
                                      latent["samples"], disable_pbar=True, seed=k)
            drawn.append(features(photos.latent_to_image(out).clamp(-1, 1)))
    nearest = torch.cdist(torch.stack(drawn), data).argmin(1).tolist()
    assert sum(n == k for k, n in enumerate(nearest)) >= 7, f"class k drew like class {nearest}[k]"


def test_learned_sigmas_reach_a_plain_ksampler_through_the_dyweight_scheduler(pack, tmp_path, caplog):
    """Calibrate (defaults: learned sigmas) -> Save Table -> KSampler with sampler and scheduler `dyweight`
    runs the table on its own sigmas, exactly as DyWeight Sampler + the table's sigmas do."""
    import logging

    import comfy.sample
    import comfy.samplers
    import folder_paths
    from comfyui_dyweight.nodes.calibrate import DyWeightCalibrate
    from comfyui_dyweight.nodes.photos import ALL_SUBJECTS, DyWeightPhotosModel
    from comfyui_dyweight.nodes.sampler import DyWeightSampler
    from comfyui_dyweight.nodes.tables import DyWeightSaveTable

    model, positive, negative, latent = DyWeightPhotosModel.execute(ALL_SUBJECTS, 8).result[:4]
    table, report, _ = DyWeightCalibrate.execute(model, positive, negative, latent, 3, "karras", 1.0, iterations=12, samples=8,
                                              holdout=8, batch_size=8, teacher_steps=16).result
    sampling = model.get_model_object("model_sampling")
    karras = comfy.samplers.calculate_sigmas(sampling, "karras", 3).tolist()
    assert table.provenance["scheduler"] == "dyweight" and table.provenance["sigmas_learned_from"] == "karras"
    assert table.sigmas[0] == pytest.approx(karras[0]) and table.sigmas[-1] == 0.0
    assert table.sigmas[1:-1] != pytest.approx(karras[1:-1], rel=1e-3)  # learned
    saved = folder_paths.folder_names_and_paths["dyweight"]
    folder_paths.folder_names_and_paths["dyweight"] = ([str(tmp_path)], saved[1])
    try:
        DyWeightSaveTable.execute(table, "photos_3steps", False)
        assert comfy.samplers.calculate_sigmas(sampling, "dyweight", 3).tolist() == pytest.approx(table.sigmas, rel=1e-6)
        noise = comfy.sample.prepare_noise(latent["samples"], 5)
        with caplog.at_level(logging.INFO), torch.inference_mode():
            plain = comfy.sample.sample(model, noise, 3, 1.0, "dyweight", "dyweight", positive, negative, latent["samples"],
                                        disable_pbar=True)
            custom = comfy.sample.sample_custom(model, noise, 1.0, DyWeightSampler.execute(table=table).result[0],
                                                torch.tensor(table.sigmas), positive, negative, latent["samples"], disable_pbar=True)
        assert any("using table 'photos_3steps'" in r.message and "differ" not in r.message for r in caplog.records)
        assert (plain - custom).abs().max() < 1e-5
    finally:
        folder_paths.folder_names_and_paths["dyweight"] = saved


def test_the_dyweight_scheduler_knows_which_model_a_sampling_belongs_to(pack):
    """ComfyUI hands a scheduler only the model_sampling: the family is found from its holder, also when a
    node patched the sampling in (ModelSamplingDiscrete-style object patch), so one family's learned sigmas
    never reach another's."""
    import comfy.model_sampling
    from comfyui_dyweight.nodes.model_info import owner_family
    from comfyui_dyweight.nodes.photos import load_photos_model
    from comfyui_dyweight.nodes.mixture import mixture_model
    with torch.inference_mode():
        photos_model = load_photos_model()
    patched = photos_model.clone()

    class Sampling(comfy.model_sampling.ModelSamplingDiscrete, comfy.model_sampling.EPS):
        pass
    patched.add_object_patch("model_sampling", Sampling())
    assert owner_family(photos_model.get_model_object("model_sampling")) == "DyWeightPhotos32"
    assert owner_family(patched.get_model_object("model_sampling")) == "DyWeightPhotos32"
    assert owner_family(mixture_model().get_model_object("model_sampling")) == "DyWeightMixture"
    assert owner_family(Sampling()) is None  # held by nothing: the scheduler then ignores the family
