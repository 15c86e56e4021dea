import pytest

import mmzoo
from mmzoo.config import load_config, parse_set_arguments
from mmzoo.errors import ConfigError


def test_load_and_override():
    cfg = load_config("gmu", {"hidden_dim": 4, "train.epochs": 3})
    assert cfg.model == "gmu"
    assert cfg.config["hidden_dim"] == 4
    assert cfg.train["epochs"] == 3
    assert cfg.data["source"] == "synthetic"
    # Section-style overrides are the same as dotted ones.
    other = load_config("gmu", {"config": {"hidden_dim": 4}, "train": {"epochs": 3}})
    assert other.to_dict() == cfg.to_dict()


def test_unknown_model_lists_available():
    with pytest.raises(ConfigError, match="Available models: .*gmu"):
        mmzoo.build("no_such_model")


def test_unknown_override_names_key_value_and_valid_keys():
    with pytest.raises(ConfigError) as e:
        load_config("gmu", {"hiddn_dim": 4})
    assert "'hiddn_dim'" in str(e.value) and "(value 4)" in str(e.value)
    assert "hidden_dim" in str(e.value) and "Valid keys" in str(e.value)


@pytest.mark.parametrize(
    "overrides,match",
    [
        (
            {"hidden_dim": "wide"},
            r"config.hidden_dim: got 'wide' \(str\), expected int",
        ),
        ({"hidden_dim": 4.5}, "expected int"),
        ({"use_mask_input": 1}, "expected bool"),
        ({"train.learning_rate": "fast"}, "train.learning_rate"),
        ({"train.epochs_": 3}, "Unknown key train.epochs_"),
    ],
)
def test_wrong_types(overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_config("gmu", overrides)


def test_int_accepted_for_float():
    assert load_config("gmu", {"train.learning_rate": 1}).train["learning_rate"] == 1


def test_out_of_range_value_is_refused_by_the_constructor():
    with pytest.raises(ConfigError, match="hidden_dim=-1"):
        mmzoo.build("gmu", hidden_dim=-1)
    with pytest.raises(ConfigError, match="dropout=1.5"):
        mmzoo.build("gmu", dropout=1.5)


def test_yaml_python_tag_is_refused(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text(
        "model: gmu\nconfig: !!python/object/apply:os.system ['echo pwned']\n"
    )
    with pytest.raises(ConfigError, match="not safe, plain YAML"):
        load_config(path)


def test_yaml_alias_bomb_is_refused(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\nmodel: gmu\n")
    with pytest.raises(ConfigError, match="aliases"):
        load_config(path)


def test_missing_file_and_unknown_section(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    path = tmp_path / "x.yaml"
    path.write_text("model: gmu\ntrian: {}\n")
    with pytest.raises(ConfigError, match="Unknown section 'trian'"):
        load_config(path)


def test_parse_set_arguments():
    assert parse_set_arguments(["a=1", "b=[1, 2]", "c=x", "d=0.5"]) == {
        "a": 1,
        "b": [1, 2],
        "c": "x",
        "d": 0.5,
    }
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_set_arguments(["novalue"])


@pytest.mark.parametrize("name", mmzoo.list_models())
def test_every_zoo_config_holds_exactly_constructor_args(name):
    cfg = load_config(name)
    cls = mmzoo.registry.get_architecture(cfg.model)
    assert set(cfg.config) <= set(cls.constructor_args())


def test_dotted_keys_inside_mapping_values():
    cfg = mmzoo.load_config(
        "captioner_hub", {"encoder.hub": "/models/m", "config.encoder.trainable": True}
    )
    assert cfg.config["encoder"]["hub"] == "/models/m"
    assert cfg.config["encoder"]["trainable"] is True
    assert "pixel_scale" in cfg.config["encoder"]  # the rest is kept
    # The zoo file's mapping is not changed for the next load.
    assert mmzoo.load_config("captioner_hub").config["encoder"]["hub"].startswith(
        "https://"
    )
    cfg = mmzoo.load_config("gmu_mosi_hub", {"encoders.transcript.units": [8]})
    assert cfg.config["encoders"]["transcript"]["units"] == [8]
    assert cfg.config["encoders"]["transcript"]["hub"].startswith("https://")
    with pytest.raises(ConfigError, match="encoder is 'small_cnn', not a mapping"):
        mmzoo.load_config("captioner", {"encoder.hub": "/models/m"})


def test_a_spec_may_replace_a_name():
    cfg = mmzoo.load_config("captioner", {"encoder": {"hub": "/models/m"}})
    assert cfg.config["encoder"] == {"hub": "/models/m"}
