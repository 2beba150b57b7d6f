"""``UpstreamSettings``: defaults, the TOML file, the environment, and clear errors."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from assistdb.server.backends.chat_completions import (
    UpstreamConfigError,
    UpstreamSettings,
    parse_model_map,
    retry_after,
    scrub,
)

KEY = "sk-settings-test-0123456789"


def test_defaults() -> None:
    settings = UpstreamSettings.load(environ={})

    assert settings == UpstreamSettings()
    assert (settings.timeout, settings.max_retries, settings.backoff, settings.max_wait) == (
        60.0,
        3,
        0.5,
        20.0,
    )
    assert settings.token_limit_field == "auto" and settings.limit_field == "max_completion_tokens"
    assert settings.location == "https://api.openai.com/v1"


def test_the_environment() -> None:
    environ = {
        "ASSISTDB_UPSTREAM_URL": "http://127.0.0.1:11434/v1",
        "ASSISTDB_UPSTREAM_API_KEY": KEY,
        "OPENAI_API_KEY": "sk-not-this-one",
        "ASSISTDB_UPSTREAM_MODEL_MAP": "gpt-4o=llama3.2, *=qwen2.5",
        "ASSISTDB_UPSTREAM_TIMEOUT": "12.5",
        "ASSISTDB_UPSTREAM_MAX_RETRIES": "5",
        "ASSISTDB_UPSTREAM_BACKOFF": "0.25",
        "ASSISTDB_UPSTREAM_MAX_WAIT": "30",
        "ASSISTDB_UPSTREAM_TOKEN_LIMIT_FIELD": "max_tokens",
    }

    settings = UpstreamSettings.load(environ=environ)

    assert settings == UpstreamSettings(
        base_url="http://127.0.0.1:11434/v1",
        api_key=KEY,
        model_map={"gpt-4o": "llama3.2", "*": "qwen2.5"},
        timeout=12.5,
        max_retries=5,
        backoff=0.25,
        max_wait=30.0,
        token_limit_field="max_tokens",
    )


def test_the_token_limit_field_follows_the_upstream() -> None:
    azure = UpstreamSettings(
        azure_endpoint="https://example.openai.azure.com", azure_api_version="2024-10-21"
    )
    ollama = UpstreamSettings(base_url="http://127.0.0.1:11434/v1")

    assert UpstreamSettings().limit_field == "max_completion_tokens"
    assert azure.limit_field == "max_completion_tokens"
    assert ollama.limit_field == "max_tokens"
    assert UpstreamSettings(
        base_url="http://x/v1", token_limit_field="max_completion_tokens"
    ).limit_field == ("max_completion_tokens")


def test_the_key_falls_back_to_openai_then_azure_variables() -> None:
    assert UpstreamSettings.load(environ={"OPENAI_API_KEY": KEY}).api_key == KEY
    assert UpstreamSettings.load(environ={"AZURE_OPENAI_API_KEY": KEY}).api_key == KEY


def test_the_key_is_not_in_the_repr() -> None:
    settings = UpstreamSettings.load(environ={"ASSISTDB_UPSTREAM_API_KEY": KEY})

    assert KEY not in repr(settings) and KEY not in str(settings)


def test_azure_from_the_environment() -> None:
    environ = {
        "AZURE_OPENAI_ENDPOINT": "https://example.openai.azure.com",
        "AZURE_OPENAI_API_KEY": KEY,
        "OPENAI_API_VERSION": "2024-10-21",
    }

    settings = UpstreamSettings.load(environ=environ)

    assert settings.is_azure and settings.azure_api_version == "2024-10-21"
    assert isinstance(settings.client(), openai.AsyncAzureOpenAI)


def test_azure_needs_an_api_version() -> None:
    with pytest.raises(UpstreamConfigError, match="AZURE_OPENAI_API_VERSION"):
        UpstreamSettings.load(environ={"AZURE_OPENAI_ENDPOINT": "https://example.openai.azure.com"})


def test_a_config_file_under_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "assistdb.toml"
    path.write_text(
        '[upstream]\nurl = "http://127.0.0.1:8000/v1"\napi_key_env = "MY_VLLM_KEY"\ntimeout = 30\n'
        'max_retries = 1\n[upstream.model_map]\n"gpt-4o" = "meta-llama/Llama-3.1-8B-Instruct"\n',
        encoding="utf-8",
    )

    settings = UpstreamSettings.load(path, environ={"MY_VLLM_KEY": KEY, "OPENAI_API_KEY": "sk-other"})
    overridden = UpstreamSettings.load(path, environ={"ASSISTDB_UPSTREAM_MAX_RETRIES": "4"})

    assert settings == UpstreamSettings(
        base_url="http://127.0.0.1:8000/v1",
        api_key=KEY,
        model_map={"gpt-4o": "meta-llama/Llama-3.1-8B-Instruct"},
        timeout=30.0,
        max_retries=1,
    )
    assert overridden.max_retries == 4 and overridden.api_key is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[upstream]\napi_key = "sk-in-a-file"\n', "keep it in the environment"),
        ("[upstream]\ntimeout = 'soon'\n", "timeout must be a float"),
        ("[upstream]\nmax_retries = -1\n", "max_retries must be zero or more"),
        ("[upstream]\nretries = 2\n", "unknown upstream setting 'retries'; known: azure_api_version"),
        (
            "[upstream]\nbase_url = 'http://x/v1'\n",
            "unknown upstream setting 'base_url' in .*; the file calls it url",
        ),
        ("[upstream]\nurl = 8000\n", "url must be a string, not 8000"),
        ("[upstream]\ntoken_limit_field = 'tokens'\n", "token_limit_field must be"),
        ("[upstream]\nmodel_map = 'gpt-4o'\n", "model_map must map"),
        ("[upstream]\nembedding_model = 3\n", "embedding_model must be a string, not 3"),
        ("[upstream]\nembedding_model = ' '\n", "embedding_model must name a model"),
        ("upstream = 3\n", "must be a table"),
        ("[upstream\n", "not valid TOML"),
    ],
)
def test_bad_config_files_say_what_is_wrong(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "assistdb.toml"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(UpstreamConfigError, match=message) as raised:
        UpstreamSettings.load(path, environ={})

    assert "sk-in-a-file" not in str(raised.value)
    assert "\n" not in str(raised.value)


def test_updated_settings_are_checked_like_the_rest() -> None:
    settings = UpstreamSettings.load(environ={"ASSISTDB_UPSTREAM_API_KEY": KEY})

    changed = settings.updated({"base_url": "http://127.0.0.1:8000/v1", "max_retries": "1", "timeout": None})

    assert changed == UpstreamSettings(base_url="http://127.0.0.1:8000/v1", api_key=KEY, max_retries=1)
    with pytest.raises(UpstreamConfigError, match="backoff must be zero or more"):
        settings.updated({"backoff": -1})


def test_the_embedding_model_from_the_file_the_environment_or_an_option(tmp_path: Path) -> None:
    path = tmp_path / "assistdb.toml"
    path.write_text(
        '[upstream]\nurl = "http://127.0.0.1:8000/v1"\nembedding_model = "nomic"\n', encoding="utf-8"
    )

    assert UpstreamSettings.load(environ={}).embedding_model is None
    assert UpstreamSettings.load(path, environ={}).embedding_model == "nomic"
    from_env = UpstreamSettings.load(path, environ={"ASSISTDB_UPSTREAM_EMBEDDING_MODEL": "bge-m3"})
    assert from_env.embedding_model == "bge-m3"
    assert from_env.updated({"embedding_model": "e5"}).embedding_model == "e5"


def test_a_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(UpstreamConfigError, match="cannot read the config file"):
        UpstreamSettings.load(tmp_path / "nope.toml", environ={})


def test_openai_base_url_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # OPENAI_BASE_URL is for assistdb's clients (it may point at assistdb serve), not its upstream.
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")

    client = UpstreamSettings.load(environ={"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": "http://x/v1"}).client()

    assert str(client.base_url).rstrip("/") == "https://api.openai.com/v1"


def test_connecting_waits_at_most_five_seconds() -> None:
    client = UpstreamSettings(base_url="http://127.0.0.1:11434/v1", timeout=120).client()
    quick = UpstreamSettings(base_url="http://127.0.0.1:11434/v1", timeout=2).client()

    assert client.timeout == openai.Timeout(120, connect=5.0)
    assert quick.timeout == openai.Timeout(2, connect=2)


def test_openai_itself_needs_a_key() -> None:
    with pytest.raises(UpstreamConfigError, match="no API key for OpenAI"):
        UpstreamSettings().client()
    assert isinstance(UpstreamSettings(base_url="http://127.0.0.1:11434/v1").client(), openai.AsyncOpenAI)


def test_model_maps() -> None:
    assert parse_model_map("") == {}
    assert parse_model_map("a=b,c = d ,") == {"a": "b", "c": "d"}
    with pytest.raises(UpstreamConfigError, match="'gpt-4o' is not NAME=UPSTREAM_NAME"):
        parse_model_map("gpt-4o")


def test_retry_after_headers() -> None:
    assert retry_after({}) is None
    assert retry_after({"Retry-After": "2"}) == 2.0
    assert retry_after({"retry-after-ms": "150", "retry-after": "9"}) == 0.15
    assert retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # a date in the past
    assert retry_after({"Retry-After": "soon"}) is None


def test_scrub() -> None:
    assert scrub(f"bad key {KEY}\n\x1b[31mred", (KEY, None)) == "bad key *** [31mred"
    assert len(scrub("x" * 2000)) == 500
    assert scrub("the next token", ("x",)) == "the next token"  # a placeholder key is no secret


def test_the_location_leaves_out_credentials() -> None:
    settings = UpstreamSettings(base_url="https://user:pw@example.com/v1?key=abc#frag")

    assert settings.location == "https://example.com/v1"
