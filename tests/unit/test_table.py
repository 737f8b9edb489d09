"""Table format: round trip, strict validation with messages naming the file and the problem."""

import pytest
import yaml

from dyweight_core import schedules
from dyweight_core.lookup import choose_table, scan_tables, scheduler_sigmas
from dyweight_core.table import CoefficientTable, TableError, adams_bashforth_table, load_table, save_table

SIGMAS = [14.6, 6.1, 2.4, 0.9, 0.0]


def good_table(**changes):
    t = adams_bashforth_table(SIGMAS).replace(name="", model={"family": "SD15", "model_type": "EPS"},
                                              provenance={"source": "test"})
    return t.replace(**changes)


def test_round_trip_is_exact(tmp_path):
    t = good_table(weights=[[1 / 3, 0, 0, 0], [0.1, 0.7, 0, 0], [0.2, -0.3, 1.1, 0], [0, 0, 0, 1.0]])
    path = save_table(t, str(tmp_path / "a.yaml"))
    back = load_table(path)
    assert back.weights == t.weights and back.sigmas == t.sigmas and back.t_scale == t.t_scale
    assert back.model == t.model and back.name == "a"
    assert yaml.safe_load(open(path))["format"] == "dyweight-table/1"


def test_a_pairs_table_keeps_its_second_model_and_switch_step(tmp_path):
    low = {"family": "WAN21_T2V", "model_type": "FLOW", "shift": 8.0, "fingerprint": "ab12", "weights": "ab12"}
    t = good_table(model={"family": "WAN21_T2V", "model_type": "FLOW", "low_noise_model": low}, provenance={"switch_step": 2})
    back = load_table(save_table(t, str(tmp_path / "pair.yaml")))
    assert back.model["low_noise_model"] == low and back.provenance["switch_step"] == 2


def write(tmp_path, data, name="bad.yaml"):
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return str(p)


@pytest.mark.parametrize("change,message", [
    ({"weights": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}, "4 x 4"),
    ({"weights": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, float("nan")]]}, "must be finite"),
    ({"window": 2, "weights": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0.5, 0, 0, 1]]}, "outside the band"),
    ({"weights": [[1, 0.5, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]}, "outside the band"),
    ({"t_scale": [1, 1, 1]}, "t_scale must have 4"),
    ({"t_scale": [1, 1, float("inf"), 1]}, "finite and positive"),
    ({"sigmas": [14.6, 6.1, 2.4, 0.0]}, "steps \\+ 1 = 5"),
    ({"sigmas": [14.6, 6.1, 6.1, 0.9, 0.0]}, "strictly decreasing"),
    ({"convention": "eps"}, "convention"),
    ({"model": {"family": "WAN21_T2V", "low_noise_model": "wan_low.safetensors"}}, "low_noise_model must be a mapping"),
    ({"model": {"family": "WAN21_T2V", "low_noise_model": {"family": "WAN21_T2V"}}}, "needs provenance.switch_step from 1 to 3"),
    ({"model": {"family": "WAN21_T2V", "low_noise_model": {"family": "WAN21_T2V"}}, "provenance": {"switch_step": 4}},
     "switch_step from 1 to 3, got 4"),
])
def test_validation_names_file_and_problem(tmp_path, change, message):
    data = good_table().to_dict()
    data.update(change)
    path = write(tmp_path, data)
    with pytest.raises(TableError, match=message) as e:
        load_table(path)
    assert path in str(e.value)


@pytest.mark.parametrize("text,message", [
    ("", "expected a YAML mapping"),
    ("\x00\xff junk: [", "cannot be read as YAML"),
    ("format: dyweight-table/9\nsteps: 1\n", "unsupported format 'dyweight-table/9'"),
    ("format: dyweight-table/1\nsteps: 2\n", "missing field"),
    ("format: dyweight-table/1\nsteps: 2\nwindow: 1\nweights: .nan\nt_scale: [1, 1]\nsigmas: [2, 1, 0]\n", "list of rows"),
])
def test_malformed_files(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(TableError, match=message):
        load_table(path)


def test_binary_junk_file(tmp_path):
    p = tmp_path / "junk.yaml"
    p.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(TableError, match="junk.yaml"):
        load_table(str(p))


def test_save_refuses_overwrite_and_is_atomic(tmp_path):
    path = save_table(good_table(), str(tmp_path / "t.yaml"))
    before = open(path).read()
    with pytest.raises(TableError, match="already exists"):
        save_table(good_table(t_scale=[0.9] * 4), path)
    assert open(path).read() == before
    with pytest.raises(TableError):
        save_table(good_table(t_scale=[0.9] * 3), path, overwrite=True)  # invalid: nothing written
    assert open(path).read() == before and [p.name for p in tmp_path.iterdir()] == ["t.yaml"]
    save_table(good_table(t_scale=[0.9] * 4), path, overwrite=True)
    assert load_table(path).t_scale == [0.9] * 4


def test_lookup_rules(tmp_path):
    ident = {"family": "SD15", "model_type": "EPS", "shift": None, "fingerprint": "abc"}
    family = good_table(name="family")
    exact = good_table(name="exact", model={**family.model, "fingerprint": "abc"})
    other_sched = good_table(name="other", sigmas=[14.6, 5.0, 2.0, 0.5, 0.0], model={**family.model, "fingerprint": "abc"})
    other_model = good_table(name="sdxl", model={"family": "SDXL", "model_type": "EPS"})
    assert choose_table([family, exact, other_model], ident, SIGMAS)[0].name == "exact"
    assert choose_table([family, other_model], ident, SIGMAS)[0].name == "family"
    t, msg = choose_table([other_sched, family], ident, SIGMAS)
    assert t.name == "family"  # a schedule match beats a fingerprint match on other sigmas
    t, msg = choose_table([other_sched], ident, SIGMAS)  # nothing says it beats the fallback on sigmas it was not fitted on
    assert t is None and "made for another schedule" in msg and msg.endswith("DyWeight Scheduler would run table 'other' on its own sigmas")
    t, msg = choose_table([other_model], ident, SIGMAS)
    assert t is None and "SD15/EPS, 4 steps" in msg and "fallback" in msg
    t, msg = choose_table([family], ident, SIGMAS[:-1])  # 3 steps: no table of that count
    assert t is None
    tail = [6.1, 2.4, 0.9, 0.3, 0.0]  # 4 steps of a longer schedule (denoise < 1 / start_step): not this table
    t, msg = choose_table([family, exact], ident, tail)
    assert t is None and "another sigma range" in msg


def test_lookup_of_tables_made_on_the_dyweight_scheduler():
    """The authors' tables: FLUX's follow the model's shift (resolution), SD's end at sigma_min."""
    flux = good_table(name="flux", convention="velocity", sigmas=schedules.flux_sigmas(4, 1.15),
                      model={"family": "Flux", "model_type": "FLUX", "shift": None},
                      provenance={"scheduler": "dyweight", "schedule": "flux_shift", "source": "the authors"})
    for mu in (0.63, 1.15, 1.3):  # 512, 1024, 1152 px: the same table, no warning
        t, msg = choose_table([flux], {"family": "Flux", "model_type": "FLUX", "shift": mu}, schedules.flux_sigmas(4, mu))
        assert t is flux and "differ" not in msg and msg.endswith("(from the authors)")
    own = flux.replace(name="own", provenance={"scheduler": "beta"}, model={**flux.model, "shift": 1.15})
    t, msg = choose_table([own], {"family": "Flux", "model_type": "FLUX", "shift": 0.63}, schedules.flux_sigmas(4, 0.63))
    assert t is None and msg.endswith("scheduler=beta would use table 'own'")  # another shift: another schedule, not another model
    assert choose_table([flux], {"family": "FluxSchnell", "model_type": "FLOW", "shift": 1.0}, schedules.flux_sigmas(4, 1.0))[0] is None
    sd = good_table(name="sd4", sigmas=[14.61, 4.09, 1.62, 0.695, 0.0292], provenance={"scheduler": "dyweight"})
    karras = [14.61, 3.17, 0.447, 0.0292, 0.0]
    t, msg = choose_table([sd], {"family": "SD15", "model_type": "EPS"}, karras)
    assert t is None and "another sigma range" in msg and msg.endswith("scheduler=dyweight would use table 'sd4'")


def test_dyweight_scheduler_choice():
    grid = schedules.ldm_sigmas()
    discrete = {"kind": "discrete", "sigma_min": grid[0].item(), "sigma_max": grid[-1].item(), "shift": 1.0, "grid": grid}
    ten = schedules.polynomial_sigmas(11, grid[0].item(), grid[-1].item())
    authors = good_table(name="sd10", steps=10, window=1, weights=[[float(i == j) for j in range(10)] for i in range(10)],
                         t_scale=[1.0] * 10, sigmas=ten, provenance={"scheduler": "dyweight"})
    karras = authors.replace(name="k", provenance={"scheduler": "karras"}, sigmas=ten[:-1] + [0.0])
    sigmas, msg = scheduler_sigmas([karras, authors], discrete, 10)
    assert sigmas == ten and "'sd10'" in msg  # only tables made on this scheduler give it sigmas
    sigmas, msg = scheduler_sigmas([karras], discrete, 10)
    assert sigmas == schedules.discrete_sigmas(11, grid) and "no table" in msg
    assert scheduler_sigmas([authors], discrete, 4)[0] == schedules.discrete_sigmas(5, grid)
    assert scheduler_sigmas([], {"kind": "flux", "shift": 0.8}, 3)[0] == schedules.flux_sigmas(3, 0.8)
    assert scheduler_sigmas([], {"kind": "flow", "shift": 3.0}, 3)[0] == schedules.shifted_flow_sigmas(3, 3.0)
    edm = scheduler_sigmas([], {"kind": "continuous", "sigma_min": 0.002, "sigma_max": 80.0}, 5)[0]
    assert edm == schedules.polynomial_sigmas(6, 0.002, 80.0)


def test_scan_survives_broken_files(tmp_path):
    save_table(good_table(), str(tmp_path / "good.yaml"))
    (tmp_path / "bad.yaml").write_text("weights: [")
    (tmp_path / "notes.txt").write_text("ignored")
    found = dict(scan_tables([str(tmp_path), str(tmp_path / "missing")]))
    assert set(map(lambda p: p.rsplit("/", 1)[1], found)) == {"good.yaml", "bad.yaml"}
    assert isinstance(found[str(tmp_path / "bad.yaml")], TableError)
    assert isinstance(found[str(tmp_path / "good.yaml")], CoefficientTable)
