# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup demo test lint clean screenshots xvfb

setup: $(VENV)/.installed

# Reinstall when the dependency list changes; the package itself is installed editable.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,panel]'
	touch $@

demo: setup
	$(BIN)/mfmjt demo

test: setup xvfb lint
	$(BIN)/python -m pytest
	$(MAKE) test-blender

# Xvfb and the X libraries Qt's xcb plugin loads, so the panel soak also runs on a real X server
# (tests/panel/test_panel_soak.py). Needs root and Debian/Ubuntu's apt; where that is missing the
# soak runs offscreen only and says why.
XVFB_PACKAGES := xvfb libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 \
	libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libegl1 libfontconfig1
xvfb:
	@if command -v Xvfb >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(XVFB_PACKAGES) >/dev/null) \
		|| echo "xvfb: apt-get failed; the panel soak runs offscreen only"; \
	else echo "xvfb: not installed and no root apt-get here; the panel soak runs offscreen only"; fi

# The panel screenshots in docs/screenshots/, made by the panel state tests' own run.
screenshots: setup
	MFMJT_SCREENSHOTS=docs $(BIN)/python -m pytest tests/panel/test_panel_states.py -q

# The linter as pyproject.toml configures it (the pinned ruff from the test extra).
lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache

# The Blender extension's tests in real headless Blender: the PyPI `bpy` module, Blender 4.5 and
# 5.0 on Python 3.11, each in its own venv because bpy pins its own numpy. Add Blender 5.1
# (Python 3.13) with `make test-blender BPY_VENVS=".venv-bpy45 .venv-bpy50 .venv-bpy51"`.
# Builds dist/mfmjt_vse-<version>-*.zip first (pip downloads the pyzmq wheels once, to dist/wheels).
BPY_PYTHON ?= python3.11
BPY_VENVS  ?= .venv-bpy45 .venv-bpy50

.PHONY: test-blender
test-blender: setup $(BPY_VENVS:%=%/.installed)
	$(BIN)/python plugins/blender_vse/build.py
	@set -e; for venv in $(BPY_VENVS); do \
		echo "== $$venv =="; $$venv/bin/python -m pytest tests/blender -q -p no:cacheprovider; \
	done

.venv-bpy45/.installed: BPY_SPEC = bpy==4.5.*
.venv-bpy50/.installed: BPY_SPEC = bpy==5.0.*
.venv-bpy51/.installed: BPY_SPEC = bpy==5.1.*
.venv-bpy51/.installed: BPY_PYTHON = python3.13
.venv-bpy%/.installed:
	$(BPY_PYTHON) -m venv $(@D)
	$(@D)/bin/python -m pip install --quiet --disable-pip-version-check "$(BPY_SPEC)" pyzmq pytest pytest-timeout
	touch $@
