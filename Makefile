# The two commands the README promises, plus the pieces they are made of.
#   make demo   set up, then a live chisel (or, where live capture is impossible, the bundled capture)
#   make test   set up, then the whole test suite, live tests included
VENV    := .venv
PY      := $(VENV)/bin/python
CHISEL  := $(VENV)/bin/chisel
SAMPLE  := tests/data/scap/libs_curl_google.scap
# CI must finish in 20 minutes: the suite gets 17, the quick benchmark the rest.
TEST_TIMEOUT := 17m

.PHONY: setup demo test test-unit bench soak clean-venv

setup:
	@.ci/setup.sh

# Live when we are root and the syscall tracepoints exist; otherwise the sample capture.
demo: setup
	@if [ "$$(id -u)" = 0 ] && [ -d /sys/kernel/tracing/events/syscalls ]; then \
		echo "demo: chisel echo_fds fd.name=/etc/os-release -- sh -c 'cat /etc/os-release >/dev/null'"; \
		$(CHISEL) echo_fds fd.name=/etc/os-release -- sh -c 'cat /etc/os-release >/dev/null'; \
	else \
		echo "demo: live capture needs root and BPF; replaying $(SAMPLE) through echo_fds instead"; \
		TZ=UTC $(CHISEL) -r $(SAMPLE) echo_fds; \
	fi

# pytest exits 5 when it collected nothing: that is a broken suite, not a pass.
test: setup
	@timeout $(TEST_TIMEOUT) $(PY) -m pytest -q -p no:cacheprovider --continue-on-collection-errors tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "test: error: pytest collected no tests" >&2; exit 1; fi; \
	if [ $$rc -eq 124 ]; then echo "test: error: the suite ran past $(TEST_TIMEOUT)" >&2; fi; \
	exit $$rc

# The fast part alone, for development: no root, no BPF.
test-unit: setup
	@$(PY) -m pytest -q -m "not live" tests/unit

bench: setup
	@$(PY) bench/run.py --quick

# The long run of issue 8: 10 minutes of processes and fds created and destroyed under a live chisel;
# fails when resident memory grows 10% after warm-up or the state keeps dead processes or fds.
soak: setup
	@$(PY) bench/soak.py --minutes 10
