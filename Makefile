# make install : virtualenv + the server and its test tools
# make demo    : a demo server on http://127.0.0.1:6543/vidjil/ (SQLite, in-process queue)
# make test    : the whole suite on SQLite, then on MariaDB (127.0.0.1:3306, root)
PYTHON ?= python3
VENV ?= .venv
MARIADB_URL ?= mysql+pymysql://root@127.0.0.1/vidjil_test
BROKER_URL ?= amqp://guest:guest@127.0.0.1:5672/%2F

.PHONY: install demo test test-sqlite test-mariadb

$(VENV)/bin/vidjil-server: setup.py
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/bin/vidjil-server

demo: install
	$(VENV)/bin/vidjil-server demo --admin-email admin@vidjil.local

test: test-sqlite test-mariadb

test-sqlite: install
	VIDJIL_TEST_BROKER_URL='$(BROKER_URL)' $(VENV)/bin/python -m pytest -q -p no:cacheprovider

test-mariadb: install
	VIDJIL_TEST_DATABASE_URL='$(MARIADB_URL)' VIDJIL_TEST_BROKER_URL='$(BROKER_URL)' \
		$(VENV)/bin/python -m pytest -q -p no:cacheprovider
