# DOST SSŞ — two commands: `make run` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
FLASK  := $(VENV)/bin/flask --app app
PORT   ?= 5000
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test install migrate demo translations translations-update lint bench lock screenshots clean

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check uv
	$(VENV)/bin/uv pip install --python $(PY) -q -r requirements.lock
	$(VENV)/bin/uv pip install --python $(PY) -q --no-deps -e .
	touch $@

install: $(VENV)/.installed translations

translations: $(VENV)/.installed
	$(VENV)/bin/pybabel compile --statistics -d dost/translations

# After changing UI text: re-extract the messages and merge them into the az/en/ru catalogs, then translate
# the new (empty or fuzzy) entries; tests/test_translations.py fails until every catalog is complete.
translations-update: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o dost/translations/messages.pot .
	$(VENV)/bin/pybabel update --ignore-obsolete -i dost/translations/messages.pot -d dost/translations

migrate: install
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) dost demo --if-empty

# A local demo: the demo signature provider (its simulated Asan İmza phone at /demo/asan-phone) is on, which every
# page then says; it is off wherever DOST_DEMO_PROVIDERS=1 is not set.
# The demo targets (and the flask commands they run) sign in at the demo identity provider, served by the app at
# /demo-idp; without it or a real national login (DOST_OIDC_ISSUER) the app refuses to start.
migrate demo: export DOST_DEMO_PROVIDERS ?= 1
migrate demo: export DOST_DEMO_IDP_ISSUER ?= http://127.0.0.1:$(PORT)/demo-idp
run: export DOST_DEMO_PROVIDERS ?= 1
run: export DOST_DEMO_IDP_ISSUER ?= http://127.0.0.1:$(PORT)/demo-idp
run: demo
	@echo "DOST SSŞ: http://127.0.0.1:$(PORT)/  (employer sign-in; demo sign-in details above and in README.md)"
	$(VENV)/bin/gunicorn --bind 127.0.0.1:$(PORT) --workers 2 --threads 4 app:app

# The independent OpenID provider the national-login tests sign in against (npm, test-only), where npm is here.
tests/oidc/node_modules/.package-lock.json: tests/oidc/package-lock.json
	command -v npm >/dev/null && npm ci --prefix tests/oidc --no-audit --no-fund || true

test: install tests/oidc/node_modules/.package-lock.json
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/bandit -q -c pyproject.toml -r dost --severity-level high

bench: install
	$(PY) -m bench
	$(PY) -m bench signin

# Regenerate the walkthrough screenshots (dost/static/walkthrough/, shown by README.md and /video) from the
# browser suite's journeys.
screenshots: install
	DOST_SCREENSHOTS=1 $(VENV)/bin/pytest tests/browser

# Regenerate the lock file after changing pyproject.toml dependencies.
lock: $(VENV)/.installed
	$(VENV)/bin/uv pip compile -q pyproject.toml --extra dev -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
