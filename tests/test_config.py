"""The one configuration base: every experiment's configuration keys, checks and saves itself the
same way, and keys stay what they were when runs were saved (the user's runs and the shipped
ones are found by key)."""

from dataclasses import replace

import pandas as pd
import pytest

from pcdash.config import Config, stable_hash
from pcdash.errors import ConfigError
from pcdash.experiments.autoencoder import AEConfig
from pcdash.experiments.comparison import TABLE1_DEFAULT, ComparisonConfig
from pcdash.experiments.conditions import QUICK
from pcdash.experiments.cre_config import CREConfig
from pcdash.experiments.mcpc import MCPCConfig, iris_paper
from pcdash.experiments.memory import MemoryConfig
from pcdash.experiments.ood import OODConfig, ood_paper
from pcdash.experiments.pcn_config import PCNConfig

# Keys computed by the code before the configurations shared a base (pcdash main, 2be2c61).
SAVED_KEYS = {
    "cre": (lambda: CREConfig(), "f6384fc18fb71879"),
    "cre-small": (lambda: CREConfig(arch="fc-small", lambdas=(0.0, 1.0)), "223db95d09cd057d"),
    "pcn": (lambda: PCNConfig(), "3bd827b931014ecc"),
    "pcn-precision": (
        lambda: PCNConfig(precision="layer", weight_lrs={"sgd": 0.1}),
        "cb1ac97fd1f28013",
    ),
    "ae": (lambda: AEConfig(), "ae-bb1f6eb3857e"),
    "ae-changed": (lambda: AEConfig(state_lrs=(0.2,), latent=2), "ae-cd0185ef5783"),
    "mcpc": (lambda: MCPCConfig(), "mcpc-f8f5cf6bf135"),
    "mcpc-iris": (iris_paper, "mcpc-4728270ca5e5"),
    "memory": (lambda: MemoryConfig(), "mem-b12a09b159a9"),
    "ood": (lambda: OODConfig(), "ood-4730d1f1f102"),
    "ood-paper": (ood_paper, "ood-493ae60267d8"),
    "algorithms": (
        lambda: ComparisonConfig(
            tuple((a, replace(TABLE1_DEFAULT, algorithm=a)) for a in ("pc-se", "ipc"))
        ),
        "cmp-169d51f68470c2cb",
    ),
    "pc-vs-bp": (lambda: replace(QUICK, epochs=4).comparison(), "cmp-7bb93597a8f0fc31"),
    "pc-vs-bp-8": (lambda: QUICK.comparison(), "cmp-fb573b351c1fb077"),  # the default since c181f33
}


@pytest.mark.parametrize("name", list(SAVED_KEYS))
def test_keys_are_those_runs_were_saved_under(name):
    make, key = SAVED_KEYS[name]
    assert make().key() == key


def test_every_configuration_is_a_config_with_its_own_kind():
    kinds = {make().KIND for make, _ in SAVED_KEYS.values()}
    assert all(isinstance(make(), Config) for make, _ in SAVED_KEYS.values())
    assert kinds == {
        "cre",
        "pcn",
        "pcn-comparison",
        "generative-ae",
        "generative-mcpc",
        "generative-mem",
        "generative-ood",
    }


def test_a_key_changes_with_any_field_but_not_with_a_later_field_at_its_default():
    base = PCNConfig()
    assert replace(base, epochs=6).key() != base.key()
    assert (
        replace(base, track_alignment=False).key() == base.key()
    )  # added later: its default hashes as before
    assert replace(base, track_alignment=True).key() != base.key()
    assert AEConfig(state_lrs=(0.1, 0.3)).key() == AEConfig().key()
    assert stable_hash({"a": (1, 2)}) == stable_hash({"a": [1, 2]}) != stable_hash({"a": [2, 1]})


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: CREConfig(lambdas=(1.5,)), "λ must lie in"),
        (lambda: PCNConfig(state_lrs=(0.0,)), "> 0"),
        (lambda: AEConfig(state_lrs=()), "γ"),
        (lambda: MCPCConfig(state_lr=0.05, out_var=0.01), "γ / σ²_L"),
        (lambda: MemoryConfig(ns=(0,)), "each n"),
        (lambda: OODConfig(weight_optimizer="lion"), "weight optimiser"),
        (lambda: ComparisonConfig(()), "at least one"),
        (lambda: ComparisonConfig((("a", PCNConfig()), ("a", PCNConfig()))), "unique"),
        (lambda: ComparisonConfig((("a", PCNConfig()), ("b", PCNConfig(epochs=2)))), "share"),
    ],
)
def test_bad_configurations_raise_one_config_error(make, message):
    with pytest.raises(ConfigError, match=message):
        make().validate()


def test_a_result_is_saved_and_found_under_the_configurations_key(tmp_path, monkeypatch):
    monkeypatch.setenv("PCDASH_RUNS_DIR", str(tmp_path))
    config = MemoryConfig(ns=(2,))
    assert config.load_saved() is None
    config.save(pd.DataFrame({"epoch": [1]}), {}, {"seconds": 1.0})
    saved = config.load_saved()
    assert (
        saved.key == config.key()
        and saved.kind == "generative-mem"
        and saved.config["state_lr"] == 0.1
    )
    assert replace(config, ns=(3,)).load_saved() is None  # another configuration finds nothing
    assert OODConfig().load_saved() is None
