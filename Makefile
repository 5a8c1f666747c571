# The two commands of the README. Both run the idempotent set-up first.
.PHONY: setup demo test test-fast test-browser lint format stack-up stack-down clean

VENV := .venv/bin

setup:
	@bash scripts/setup.sh

demo: setup
	$(VENV)/ioc demo

# Unit + real-service integration, then the browser tests in their own pytest process
# (sync Playwright and asyncio tests clash in one process). Honest exit code: any failure fails.
# Two workers: most of the suite waits on services, and each worker starts its own stack on
# free ports (tests/conftest.py), so they share nothing; a file stays on one worker, so a
# module's shared fixture runs once.
test: setup lint
	$(VENV)/pytest -m "not browser" -n 2 --dist loadfile --durations=15
	$(VENV)/pytest -m browser

test-fast: setup
	$(VENV)/pytest -m "not db and not broker and not browser"

test-browser: setup
	$(VENV)/pytest -m browser

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy

format:
	$(VENV)/ruff format .
	$(VENV)/ruff check --fix .

stack-up: setup
	$(VENV)/ioc stack up

stack-down:
	$(VENV)/ioc stack down

clean: stack-down
	rm -rf var test-artifacts
