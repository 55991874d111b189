from pathlib import Path

import pytest

from service import create_app
from service.config import VARIABLES, Settings, load_settings
from service.errors import ConfigurationError


def test_defaults() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.embedded and settings.mongodb_uri is None
    assert (settings.db_name, settings.data_dir, settings.host, settings.port) == (
        "doseledger",
        Path("var/db"),
        "127.0.0.1",
        8080,
    )
    assert settings.max_upload_bytes == 64 * 1024 * 1024
    assert settings.not_patient_patterns == ("phy", "test", "qa")


def test_every_setting_has_a_variable() -> None:
    assert {field for field, _ in VARIABLES.values()} == set(Settings.__dataclass_fields__)


def test_environment_then_test_mapping() -> None:
    environ = {
        "MONGODB_URI": "mongodb://db.example:27017/",
        "DOSELEDGER_PORT": "9000",
        "DOSELEDGER_NOT_PATIENT_PATTERNS": " phantom, QA ,,",
        "DOSELEDGER_DATA_DIR": "/srv/doseledger",
    }
    settings = load_settings(environ, {"DOSELEDGER_PORT": 9100, "DOSELEDGER_MAX_UPLOAD_BYTES": "1024"})
    assert settings.mongodb_uri == "mongodb://db.example:27017/" and not settings.embedded
    assert settings.port == 9100
    assert settings.max_upload_bytes == 1024
    assert settings.not_patient_patterns == ("phantom", "QA")
    assert settings.data_dir == Path("/srv/doseledger")


def test_storage_scp_settings() -> None:
    defaults = load_settings({})
    assert (defaults.scp_enabled, defaults.scp_host, defaults.scp_port, defaults.scp_ae_title) == (
        True,
        "0.0.0.0",
        11112,
        "DOSELEDGER",
    )
    assert (defaults.scp_allowed_ae_titles, defaults.scp_allowed_addresses) == ((), ())
    environ = {
        "DOSELEDGER_SCP_ENABLED": "off",
        "DOSELEDGER_SCP_ALLOWED_AE_TITLES": " CT1, MG_ROOM2 ,",
        "DOSELEDGER_SCP_ALLOWED_ADDRESSES": "10.1.0.0/16, 192.0.2.7",
    }
    settings = load_settings(environ, {"DOSELEDGER_SCP_AE_TITLE": "DOSE", "DOSELEDGER_SCP_PORT": 4242})
    assert (settings.scp_enabled, settings.scp_ae_title, settings.scp_port) == (False, "DOSE", 4242)
    assert settings.scp_allowed_ae_titles == ("CT1", "MG_ROOM2")
    assert settings.scp_allowed_addresses == ("10.1.0.0/16", "192.0.2.7")
    assert load_settings({}, {"DOSELEDGER_SCP_ALLOWED_AE_TITLES": ["PACS"]}).scp_allowed_ae_titles == ("PACS",)


def test_empty_uri_means_embedded() -> None:
    assert load_settings({"MONGODB_URI": ""}).embedded


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        load_settings({}).port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DOSELEDGER_PORT", "eighty"),
        ("DOSELEDGER_PORT", "70000"),
        ("DOSELEDGER_EMBEDDED_PORT", "0"),
        ("DOSELEDGER_MAX_UPLOAD_BYTES", "-1"),
        ("MONGODB_URI", "localhost:27017"),
        ("DOSELEDGER_DB_NAME", "my db"),
        ("DOSELEDGER_DB_TIMEOUT", "soon"),
        ("DOSELEDGER_LOG_LEVEL", "loud"),
        ("DOSELEDGER_HOST", "  "),
        ("DOSELEDGER_SCP_ENABLED", "maybe"),
        ("DOSELEDGER_SCP_AE_TITLE", "A_TITLE_LONGER_THAN_16"),
        ("DOSELEDGER_SCP_AE_TITLE", "BACK\\SLASH"),
        ("DOSELEDGER_SCP_ALLOWED_AE_TITLES", "CT1,SCANNÉR"),
        ("DOSELEDGER_SCP_ALLOWED_ADDRESSES", "10.1.0.0/16,10.1.0.300"),
        ("DOSELEDGER_SCP_MAX_ASSOCIATIONS", "0"),
    ],
)
def test_malformed_setting_names_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        load_settings({variable: value})


def test_create_app_fails_at_start_on_a_bad_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOSELEDGER_PORT", "http")
    with pytest.raises(ConfigurationError, match="DOSELEDGER_PORT='http' is not a whole number"):
        create_app()


def test_create_app_takes_the_test_mapping() -> None:
    app = create_app({"TESTING": True, "DOSELEDGER_MAX_UPLOAD_BYTES": 2048})
    assert app.testing
    assert app.config["MAX_CONTENT_LENGTH"] == 2049  # one byte more: a chunked body shows it was longer
    assert app.config["DOSELEDGER_SETTINGS"].max_upload_bytes == 2048


def test_the_mongodb_uri_can_come_from_a_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "mongodb_uri"
    secret.write_text("mongodb://doseledger:s3cret@mongo:27017/doseledger?replicaSet=rs0\n")
    settings = load_settings({"MONGODB_URI_FILE": str(secret)})
    assert settings.mongodb_uri == "mongodb://doseledger:s3cret@mongo:27017/doseledger?replicaSet=rs0"


def test_a_bad_uri_file_is_named_without_its_secret(tmp_path: Path) -> None:
    secret = tmp_path / "mongodb_uri"
    secret.write_text("mongdb://doseledger:s3cret@mongo:27017/")
    with pytest.raises(ConfigurationError, match="does not hold a MongoDB connection string") as raised:
        load_settings({"MONGODB_URI_FILE": str(secret)})
    assert "s3cret" not in str(raised.value)
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_settings({"MONGODB_URI_FILE": str(tmp_path / "missing")})
    with pytest.raises(ConfigurationError, match="MONGODB_URI and MONGODB_URI_FILE are both set"):
        load_settings({"MONGODB_URI": "mongodb://a/", "MONGODB_URI_FILE": str(secret)})
