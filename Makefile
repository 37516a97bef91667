# vqueue: a video transcoding farm in one binary.
#   make demo   install what is missing, build, transcode a sample
#   make test   install what is missing, run every test
# Other targets: deps, build, bench, fixtures, install (PREFIX=/usr/local), clean.

PREFIX  ?= /usr/local
SWIFT   ?= swift
SUDO    := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
RELEASE := .build/release/vqueue
DEMO    := .build/demo

# FFmpeg's and libpq's headers (the libraries come with them); the ffmpeg/ffprobe
# programs only judge outputs in tests and benchmarks (the product never runs
# them); sqlite3 lets tests read the queue database, tmux drives `top`.
# For the tests only: postgresql is the throw-away server `make test` starts
# (and psql, which reads it), iproute2 gives the multi-host test its network
# namespaces, faketime skews a box's clock.
DEB_PACKAGES := pkg-config libavformat-dev libavcodec-dev libavfilter-dev \
                libswscale-dev libswresample-dev libavutil-dev libsqlite3-dev libpq-dev \
                ffmpeg python3 sqlite3 tmux postgresql iproute2 faketime

.PHONY: deps build test bench demo fixtures install clean

deps:
	@command -v $(SWIFT) >/dev/null || { echo "make: the Swift toolchain (swift) is not on PATH; install Swift 6 first" >&2; exit 1; }
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "Installing Debian packages:" $$missing; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# The Swift runtime and Foundation linked statically: `submit` and `status`
# start in a few milliseconds instead of resolving symbols of a dozen .so files.
build: deps
	$(SWIFT) build -c release --static-swift-stdlib

# The queue tests run on both stores: SQLite files in temporary folders, and a
# database each on a throw-away PostgreSQL server started here for the run (in
# /tmp, which the postgres user can reach, on a free loopback port), named to
# the tests by VQUEUE_TEST_POSTGRES. The server is stopped and its folder removed
# however the tests end; make's exit status is swift test's.
PG_SERVER := Tests/Support/postgres-server.sh
# Three runs, each in a test process of its own: the unit, store and in-process
# worker tests first (dozens of in-process workers share the runner's two
# cooperative threads, which the end-to-end suites' hundreds of polling tasks
# starved for tens of seconds at a time); then the end-to-end tests; then the
# suites that cut links, restart servers and wait out leases, on an idle
# machine, so their timing is theirs and not the other suites' load.
UNIT_MODULES   := JobQueueTests|TranscodeTests|TranscodeJobsTests|vqueueTests
NETWORK_SUITES := MultiHostTests|QueueDatabaseRestartTests|PostgresFaultTests|QueueDatabaseFaultTests

test: deps
	$(SWIFT) build --build-tests
	bash $(PG_SERVER) run $(SWIFT) test --skip-build --filter "$(UNIT_MODULES)" --skip "$(NETWORK_SUITES)"
	bash $(PG_SERVER) run $(SWIFT) test --skip-build --filter EndToEndTests --skip "$(NETWORK_SUITES)"
	bash $(PG_SERVER) run $(SWIFT) test --skip-build --filter "$(NETWORK_SUITES)"

demo: build
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(RELEASE) probe Fixtures/rotated_90.mp4
	$(RELEASE) submit --db $(DEMO)/queue.db Fixtures/old_camera.avi $(DEMO)/old_camera.flv -b 200k
	$(RELEASE) submit --db $(DEMO)/queue.db Fixtures/rotated_90.mp4 $(DEMO)/rotated_90.mp4 --preset 360p
	$(RELEASE) submit --db $(DEMO)/queue.db Fixtures/surround_51.mkv $(DEMO)/surround_51.mkv
	$(RELEASE) submit --db $(DEMO)/queue.db Fixtures/truncated_30pct.mp4 $(DEMO)/truncated.mp4
	@$(RELEASE) submit --db $(DEMO)/queue.db Fixtures/audio_only.m4a $(DEMO)/audio_only.flv \
	    || echo "demo: the audio-only upload was refused at submit, as it should be"
	$(RELEASE) worker --db $(DEMO)/queue.db --drain
	$(RELEASE) list --db $(DEMO)/queue.db
	$(RELEASE) probe $(DEMO)/rotated_90.mp4
	@echo "demo outputs are in $(DEMO)/ (the truncated upload fails, as it should)"

# The queue bench measures both stores: SQLite files under .build, and a
# throw-away PostgreSQL server started for it as for `make test` (its data in
# /tmp: where /tmp is a tmpfs, PostgreSQL's fsyncs cost nothing) and stopped
# however the bench ends.
bench: build
	$(SWIFT) build -c release --static-swift-stdlib --product queue-bench
	python3 Tests/Bench/transcode_bench.py --vqueue $(RELEASE)
	bash $(PG_SERVER) run python3 Tests/Bench/queue_bench.py --vqueue $(RELEASE) --queue-bench .build/release/queue-bench
	.build/release/queue-bench supervisor --jobs 10000
	bash $(PG_SERVER) run sh -c '.build/release/queue-bench batch-poll && \
	    .build/release/queue-bench batch-poll --postgres "$$VQUEUE_TEST_POSTGRES"'

fixtures:
	bash Fixtures/make-fixtures.sh

install: build
	install -D -m 755 -s $(RELEASE) $(DESTDIR)$(PREFIX)/bin/vqueue

clean:
	rm -rf .build
