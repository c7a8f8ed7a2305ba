# The README's two commands are `make demo` and `make test`; both set up what they need.
.DEFAULT_GOAL := help
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never

.PHONY: help setup demo test bench test-stream test-airflow stack-up stack-down stack-status

help:
	@echo "make demo   - start the local stack and run the pipeline demo end to end"
	@echo "make test   - run the whole test suite against real services"
	@echo "make bench  - the benchmark suite: one table of limits, stages, peers, end to end (~8 min)"
	@echo "make setup  - only create the environments (done by demo, test and bench)"

setup:
	@scripts/bootstrap.sh

demo: setup
	.venv/bin/daas demo

# The stack is started once and shared by both environments' tests (the Airflow
# environment has no Kafka client, so it cannot start Kafka itself).
test: setup
	.venv/bin/daas stack up
	DAAS_TEST_KEEP_STACK=1 .venv/bin/pytest
	.venvs/airflow/bin/pytest -o addopts=-ra tests/dags

# Numbers, not a test: the peers (Quix Streams) get their own environment, .venvs/bench-peer.
bench: setup
	.venv/bin/daas stack up
	scripts/bench-peer.sh
	.venv/bin/python -m benchmarks

stack-up: setup
	.venv/bin/daas stack up

stack-down:
	.venv/bin/daas stack down

stack-status:
	.venv/bin/daas stack status
