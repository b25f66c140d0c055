"""The README documents every setting and every limit; the OpenAPI document states the verification limits."""

from pathlib import Path

from dost import config

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
# Internal or Flask's own settings an operator does not choose.
NOT_OPERATOR_SETTINGS = {"SQLALCHEMY_ENGINE_OPTIONS", "BABEL_DEFAULT_LOCALE", "BABEL_DEFAULT_TIMEZONE",
                         "RATELIMIT_HEADERS_ENABLED", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
                         "WTF_CSRF_TIME_LIMIT"}


def test_every_environment_variable_is_documented():
    names = set(config.ENVIRONMENT) | set(config.JSON_ENVIRONMENT) | {"DOST_DEMO_PROVIDERS", "DOST_HTTPS"}
    missing = [name for name in sorted(names) if f"`{name}" not in README]
    assert not missing, missing


def test_every_setting_is_documented():
    by_variable = set(config.ENVIRONMENT.values()) | set(config.JSON_ENVIRONMENT.values())
    settings = set(config.defaults("/tmp/instance")) - NOT_OPERATOR_SETTINGS - by_variable - {"DEMO_PROVIDERS"}
    missing = [name for name in sorted(settings) if f"`{name}`" not in README]
    assert not missing, missing


def test_the_openapi_document_states_the_configured_limits(app, client):
    app.config["VERIFY_RATE_LIMIT"] = "7 per minute"
    document = client.get("/api/v1/openapi.json").get_json()
    assert "7 per minute" in document["info"]["description"]
    responses = document["paths"]["/api/v1/verify"]["post"]["responses"]
    assert "7 per minute" in responses["429"]["description"]
    assert "Retry-After" in responses["429"]["headers"]
    assert set(responses["200"]["headers"]) == {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}
