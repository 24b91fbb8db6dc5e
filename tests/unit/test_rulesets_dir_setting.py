"""`CPTS_RULESETS_DIR` (issue 13): a deployment's directory of ruleset files, or a one-line error naming the
variable; `use_rulesets` hands it to the loader once per change."""

from __future__ import annotations

import pytest

from lifecycle.ruleset import rulesets_dir, set_rulesets_dir
from workflows.settings import Settings, SettingsError, load_settings, use_rulesets


@pytest.fixture(autouse=True)
def _packaged_rulesets_afterwards():
    yield
    set_rulesets_dir(None)


def test_unset_or_empty_means_the_packaged_rulesets_only():
    assert load_settings({}).rulesets_dir is None
    assert load_settings({"CPTS_RULESETS_DIR": "  "}).rulesets_dir is None


def test_a_directory_is_the_setting(tmp_path):
    assert load_settings({"CPTS_RULESETS_DIR": str(tmp_path)}).rulesets_dir == tmp_path


@pytest.mark.parametrize("name", ["missing", "file.toml"])
def test_a_value_that_is_not_a_directory_is_refused_naming_the_variable(tmp_path, name):
    (tmp_path / "file.toml").write_text("", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"^CPTS_RULESETS_DIR: .* is not a directory"):
        load_settings({"CPTS_RULESETS_DIR": str(tmp_path / name)})


def test_use_rulesets_loads_the_directory_and_an_unset_one_goes_back_to_the_packaged_files(tmp_path):
    use_rulesets(Settings(rulesets_dir=tmp_path))  # an empty directory adds nothing, and is valid
    assert rulesets_dir() == tmp_path
    use_rulesets(Settings())
    assert rulesets_dir() is None
