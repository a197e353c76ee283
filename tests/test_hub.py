"""One settings table and one Hub value for every front door (issue 29, items 1 and 2)."""

import attrs
import pytest

import hubfn
from hubfn import errors
from hubfn.cli import main
from hubfn.resolve import DEFAULT_RESOLVERS, Hub
from hubfn.settings import TABLE, ArchiveLimits, RetryPolicy, Settings, environment_names


@attrs.frozen
class AliasResolver:
    """Resolves "alias:NAME" to a directory it was given: a resolver of the user's own."""

    paths: dict = attrs.field(eq=False)
    kind: str = "an alias"

    def supports(self, handle, settings):
        return handle.startswith("alias:")

    def resolve(self, handle, settings):
        return self.paths[handle[len("alias:"):]]


def test_a_hub_reaches_every_front_door(fruit_dir):
    hub = Hub.make(resolvers=(AliasResolver({"fruit": str(fruit_dir)}), *DEFAULT_RESOLVERS))
    assert hubfn.hub_resolve("alias:fruit", hub=hub) == str(fruit_dir)
    m = hubfn.hub_load("alias:fruit", hub=hub)
    assert m([[1.0, 0.0]]).numpy().tolist() == [[1.5, 1.5]]
    assert hubfn.hub_module("alias:fruit", trainable=True, hub=hub).trainable_variables
    assert {"default", "fruit_to_pet"} <= {s["name"] for s in hubfn.module_signatures("alias:fruit", hub=hub)}
    layer = hubfn.hub_layer("alias:fruit", hub=hub)  # resolvers did not reach hub_layer before the Hub
    assert layer([[1.0, 0.0]]).numpy().tolist() == [[1.5, 1.5]]
    with pytest.raises(errors.UnsupportedHandleError, match="an alias"):
        hubfn.hub_load("nope:fruit", hub=Hub.make(resolvers=(AliasResolver({}),)))


def test_hub_make_and_the_arguments_of_a_call(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "env-cache"))
    hub = Hub.make(cache_dir=tmp_path / "mine", offline=True, timeout=(2, 5))
    assert hub.settings.cache_dir == str(tmp_path / "mine") and hub.settings.offline
    assert (hub.settings.retry.connect_timeout, hub.settings.retry.read_timeout) == (2.0, 5.0)
    assert hub.resolvers == DEFAULT_RESOLVERS
    # A call's own arguments win over its hub; the hub itself is unchanged (a value).
    again = Hub.make(hub, offline=False)
    assert not again.settings.offline and hub.settings.offline and again.settings.cache_dir == hub.settings.cache_dir
    with pytest.raises(errors.OfflineError):
        hubfn.hub_resolve("https://127.0.0.1:9/never/1", hub=hub)
    with pytest.raises(TypeError, match="Hub value"):
        Hub.make("not a hub")


def test_the_environment_is_read_once_per_call_at_the_door(fruit_dir, monkeypatch):
    calls = []
    real = Settings.from_env.__func__

    def counting(cls):
        calls.append(1)
        return real(cls)

    monkeypatch.setattr(Settings, "from_env", classmethod(counting))
    hubfn.hub_load(str(fruit_dir))
    assert len(calls) == 1
    hub = Hub.make()
    calls.clear()
    hubfn.hub_load(str(fruit_dir), hub=hub)
    hubfn.hub_resolve(str(fruit_dir), hub=hub)
    assert calls == []  # a Hub holds its settings: nothing more is read


def test_settings_are_checked_however_they_are_made(monkeypatch):
    with pytest.raises(errors.HandleError, match="retries"):
        RetryPolicy(retries=-1)
    with pytest.raises(errors.HandleError, match="max_ratio"):
        ArchiveLimits(max_ratio=0)
    with pytest.raises(errors.HandleError, match="KAGGLE_API_ENDPOINT"):
        Settings(kaggle_endpoint="ftp://kaggle")
    monkeypatch.setenv("KAGGLE_API_ENDPOINT", "not a url")
    with pytest.raises(errors.HandleError, match="KAGGLE_API_ENDPOINT"):
        hubfn.hub_resolve("kaggle:a/b/c/d/1")
    monkeypatch.delenv("KAGGLE_API_ENDPOINT")
    monkeypatch.setenv("HUBFN_RETRIES", "2")
    monkeypatch.setenv("HUBFN_MAX_RATIO", "7")
    monkeypatch.setenv("TFHUB_MODEL_LOAD_FORMAT", "LATER")
    with pytest.raises(errors.HandleError, match="TFHUB_MODEL_LOAD_FORMAT"):
        Settings.from_env()
    monkeypatch.delenv("TFHUB_MODEL_LOAD_FORMAT")
    s = Settings.from_env()
    assert s.retry.retries == 2 and s.limits.max_ratio == 7 and s.retry.worst_case_seconds() == 3 * 75 + 1 + 2


def test_the_table_is_the_defaults(monkeypatch):
    for name in environment_names():
        monkeypatch.delenv(name, raising=False)
    s = Settings.from_env()
    for row in TABLE:
        if row.per_call is None or row.default is None:
            continue
        part, _, field = row.name.rpartition(".")
        assert getattr(getattr(s, part) if part else s, field) == row.default, row.name
    assert Settings() == attrs.evolve(s, cache_dir=Settings().cache_dir)  # a plain Settings() is the table's


def test_the_cli_makes_its_hub_from_its_options(fruit_dir, tmp_path, capsys):
    assert main(["scan", "--offline", "--cache-dir", str(tmp_path), str(fruit_dir)]) == 0
    assert main(["scan", "--offline", "--cache-dir", str(tmp_path), "https://127.0.0.1:9/x/1"]) == 1
    assert "not in the cache " + str(tmp_path) in capsys.readouterr().err
