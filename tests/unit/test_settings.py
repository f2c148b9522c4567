from vidjil_pyramid.settings import as_bool, as_list, build_settings


def test_defaults_put_everything_in_the_data_dir(tmp_path):
    settings = build_settings({}, data_dir=str(tmp_path), environ={})
    assert settings["sqlalchemy.url"] == f"sqlite:///{tmp_path}/vidjil.sqlite"
    assert settings["vidjil.upload_dir"] == f"{tmp_path}/uploads"
    assert settings["vidjil.broker_url"] == "memory://"


def test_environment_overrides_ini_and_option_overrides_environment(tmp_path):
    env = {"VIDJIL_DATABASE_URL": "mysql+pymysql://u@h/db", "VIDJIL_DATA_DIR": str(tmp_path / "env"),
           "VIDJIL_SECRET": "s3cret", "VIDJIL_BROKER_URL": "amqp://h"}
    settings = build_settings({"sqlalchemy.url": "sqlite:///ini.db", "vidjil.broker_url": "memory://"}, environ=env)
    assert settings["sqlalchemy.url"] == "mysql+pymysql://u@h/db"
    assert settings["vidjil.data_dir"] == str(tmp_path / "env")
    assert settings["vidjil.secret"] == "s3cret"
    assert settings["vidjil.broker_url"] == "amqp://h"
    settings = build_settings({}, data_dir=str(tmp_path / "opt"), environ=env)
    assert settings["vidjil.data_dir"] == str(tmp_path / "opt")


def test_secret_is_generated_once_and_kept(tmp_path):
    first = build_settings({}, data_dir=str(tmp_path), environ={})["vidjil.secret"]
    second = build_settings({}, data_dir=str(tmp_path), environ={})["vidjil.secret"]
    assert first == second and len(first) == 64
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


def test_helpers():
    assert as_bool("true") and as_bool("1") and not as_bool("false") and not as_bool(None)
    assert as_list("a b,c\n d") == ["a", "b", "c", "d"]
