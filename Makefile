# vqueue: a video transcoding farm in one binary.
#   make demo      install what building needs, build, transcode samples
#   make test      install what building and testing need, run every test
#   make install   build if needed, install the program (PREFIX=/usr/local, DESTDIR)
# Other targets: deps (= deps-build + deps-test), build, bench, fixtures,
# uninstall, deb (.build/vqueue_VERSION_ARCH.deb), test-deb, clean.

PREFIX  ?= /usr/local
SWIFT   ?= swift
SUDO    := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
RELEASE := .build/release/vqueue
DEMO    := .build/demo
VERSION := $(shell cat VERSION)

# Building: FFmpeg's, libpq's, libcurl's and OpenSSL's headers (the libraries
# come with them), SQLite's, and pkg-config, which finds them.
BUILD_PACKAGES := pkg-config libavformat-dev libavcodec-dev libavfilter-dev \
                  libswscale-dev libswresample-dev libavutil-dev libsqlite3-dev libpq-dev \
                  libcurl4-openssl-dev libssl-dev ca-certificates
# Testing and benchmarking only: the ffmpeg/ffprobe programs judge outputs (the
# product never runs them); sqlite3 lets tests read the queue database, tmux
# drives `top`; postgresql is the throw-away server `make test` starts (and
# psql, which reads it); iproute2 gives the multi-host test its network
# namespaces; faketime skews a box's clock; php-cli runs the README's PHP
# example; chromium (headless) renders the dashboard; python3-pip installs
# from PyPI prometheus-client, the real
# Prometheus parser the /metrics test reads `vqueue serve`'s metrics with, and
# schemathesis, which checks the server against its OpenAPI document.
TEST_PACKAGES := ffmpeg python3 python3-pip sqlite3 tmux postgresql iproute2 faketime php-cli chromium
PYPI_TEST_PACKAGES := prometheus-client schemathesis==4.32.5
# `make test-deb` only: dpkg-dev (dpkg-shlibdeps, as for `make deb`), lintian,
# file (is the binary stripped?), man-db (man -w).
DEB_TEST_PACKAGES := dpkg-dev lintian file man-db
# `make deb`: dpkg-shlibdeps, which reads what the binary links.
DEB_TOOLS := dpkg-dev

.PHONY: deps deps-build deps-test deps-deb build test bench demo fixtures \
        install install-files uninstall deb test-deb clean

# $(call apt-install,PACKAGES): install those of PACKAGES that are missing.
define apt-install
	@missing=$$(for p in $(1); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "Installing Debian packages:" $$missing; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

deps: deps-build deps-test

deps-build:
	@command -v $(SWIFT) >/dev/null || { echo "make: the Swift toolchain (swift) is not on PATH; install Swift 6 first" >&2; exit 1; }
	$(call apt-install,$(BUILD_PACKAGES))

deps-test:
	$(call apt-install,$(TEST_PACKAGES))
	@python3 -c 'import prometheus_client, schemathesis' 2>/dev/null || { echo "Installing from PyPI: $(PYPI_TEST_PACKAGES)"; \
	    python3 -m pip install --quiet $(PYPI_TEST_PACKAGES) 2>/dev/null || \
	    python3 -m pip install --quiet --break-system-packages $(PYPI_TEST_PACKAGES); }

deps-deb:
	$(call apt-install,$(DEB_TOOLS))

# The Swift runtime and Foundation linked statically: `submit` and `status`
# start in a few milliseconds instead of resolving symbols of a dozen .so files.
# Package.swift is evaluated afresh (--manifest-cache none): it reads the git
# commit `vqueue --version` names, which SwiftPM's cached evaluation of an
# unchanged Package.swift would leave at an older commit.
FRESH := --manifest-cache none
build: deps-build
	$(SWIFT) build $(FRESH) -c release --static-swift-stdlib

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
# suites that cut links, restart servers and wait out leases (prune under
# workers with 1 s leases among them), without the other suites' load, so
# their timing is theirs.
UNIT_MODULES := JobQueueTests|TranscodeTests|TranscodeJobsTests|vqueueTests
TIMING_SUITES := MultiHostTests|QueueDatabaseRestartTests|PostgresFaultTests|QueueDatabaseFaultTests|TrustPruneUnderLoadTests|TrustDatabaseLockedTests

test: deps-build deps-test
	$(SWIFT) build $(FRESH) --build-tests
	bash $(PG_SERVER) run $(SWIFT) test --skip-build --filter "$(UNIT_MODULES)" --skip "$(TIMING_SUITES)"
	bash $(PG_SERVER) run $(SWIFT) test --skip-build --filter EndToEndTests --skip "$(TIMING_SUITES)"
	bash $(PG_SERVER) run $(SWIFT) test --skip-build --filter "$(TIMING_SUITES)"

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
bench: build deps-test
	$(SWIFT) build -c release --static-swift-stdlib --product queue-bench
	python3 Tests/Bench/transcode_bench.py --vqueue $(RELEASE)
	python3 Tests/Bench/hls_bench.py --vqueue $(RELEASE)
	python3 Tests/Bench/serve_bench.py --vqueue $(RELEASE)
	python3 Tests/Bench/split_bench.py --vqueue $(RELEASE)
	bash $(PG_SERVER) run python3 Tests/Bench/queue_bench.py --vqueue $(RELEASE) --queue-bench .build/release/queue-bench
	.build/release/queue-bench supervisor --jobs 10000
	bash $(PG_SERVER) run sh -c '.build/release/queue-bench batch-poll && \
	    .build/release/queue-bench batch-poll --postgres "$$VQUEUE_TEST_POSTGRES"'

fixtures:
	bash Fixtures/make-fixtures.sh

# `make install` installs what runs, and nothing for building or testing:
#   $(BINDIR)/vqueue                       the release binary, stripped
#   $(MANDIR)/man1/vqueue.1.gz             and vqueue-SUBCOMMAND.1.gz for each
#                                          subcommand (vqueue-worker-stop.1.gz, ...)
#   $(BASHCOMPDIR)/vqueue, $(ZSHCOMPDIR)/_vqueue, $(FISHCOMPDIR)/vqueue.fish
#   $(UNITDIR)/vqueue-worker.service, vqueue-worker@.service, vqueue-serve.service
# It builds first if needed (`build`: the build packages only, never the test
# ones). Everything but the binary is generated from the binary itself, under
# $(DIST), never in the source tree. The man pages: swift-argument-parser's
# GenerateManual plugin cannot be used as it is, since it builds every product
# again in release mode without --static-swift-stdlib (which `swift package`
# does not accept), relinking .build/release/vqueue against the shared Swift
# runtime; so we build the plugin's own tool, generate-manual, and run it on the
# binary (dist/man.sh, which also names the pages git-style and fixes what
# lintian and lexgrog find). Pages are gzipped, as Debian has them.
# `make uninstall` (same PREFIX, DESTDIR) removes those files; it leaves the
# folders, which other programs share, and does not stop or disable units.
BINDIR      = $(PREFIX)/bin
MANDIR      = $(PREFIX)/share/man
BASHCOMPDIR = $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  = $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR = $(PREFIX)/share/fish/vendor_completions.d
# systemd reads units from /usr/local/lib/systemd/system and /lib/systemd/system.
UNITDIR     = $(PREFIX)/lib/systemd/system
UNITS       := vqueue-worker.service vqueue-worker@.service vqueue-serve.service
# Stripped as dh_strip does: symbols, debug information, and the .comment and
# .note sections.
STRIP       ?= strip
DIST        := .build/dist
# The man pages' date: the last commit's, so that the same tree gives the same pages.
MANDATE     := $(shell git log -1 --format=%cs 2>/dev/null || date -u +%F)

install: install-files
	install -D -m 755 $(RELEASE) $(DESTDIR)$(BINDIR)/vqueue
	$(STRIP) --remove-section=.comment --remove-section=.note $(DESTDIR)$(BINDIR)/vqueue
	install -d $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(DIST)/man/*.1.gz $(DESTDIR)$(MANDIR)/man1/
	install -D -m 644 $(DIST)/completions/vqueue $(DESTDIR)$(BASHCOMPDIR)/vqueue
	install -D -m 644 $(DIST)/completions/_vqueue $(DESTDIR)$(ZSHCOMPDIR)/_vqueue
	install -D -m 644 $(DIST)/completions/vqueue.fish $(DESTDIR)$(FISHCOMPDIR)/vqueue.fish
	install -d $(DESTDIR)$(UNITDIR)
	for unit in $(UNITS); do install -m 644 $(DIST)/systemd/$$unit $(DESTDIR)$(UNITDIR)/$$unit || exit 1; done

install-files: build
	$(SWIFT) build -c release --static-swift-stdlib --product generate-manual
	sh dist/man.sh .build/release/generate-manual $(RELEASE) $(MANDATE) $(DIST)/man
	rm -rf $(DIST)/completions $(DIST)/systemd && mkdir -p $(DIST)/completions $(DIST)/systemd
	$(RELEASE) --generate-completion-script bash >$(DIST)/completions/vqueue
	sed -i '1{/^#!/d}' $(DIST)/completions/vqueue   # sourced, not run: no #! line
	$(RELEASE) --generate-completion-script zsh >$(DIST)/completions/_vqueue
	$(RELEASE) --generate-completion-script fish >$(DIST)/completions/vqueue.fish
	for unit in $(UNITS); do sed 's|@BINDIR@|$(BINDIR)|g' dist/systemd/$$unit.in >$(DIST)/systemd/$$unit || exit 1; done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/vqueue
	rm -f $(DESTDIR)$(MANDIR)/man1/vqueue.1.gz $(DESTDIR)$(MANDIR)/man1/vqueue-*.1.gz
	rm -f $(DESTDIR)$(BASHCOMPDIR)/vqueue $(DESTDIR)$(ZSHCOMPDIR)/_vqueue $(DESTDIR)$(FISHCOMPDIR)/vqueue.fish
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS))

# `make deb`: .build/vqueue_VERSION_ARCH.deb, from `make install` into
# $(DEB_ROOT) with PREFIX=/usr (units in /lib/systemd/system, where Debian 12
# keeps them), plus /usr/share/doc/vqueue (copyright, changelog.gz,
# README.md.gz) and the maintainer scripts in dist/deb (a vqueue system user and
# group, /var/lib/vqueue; removed on purge only). Depends: from
# dist/deb/depends.sh: what the binary links (dpkg-shlibdeps) and the FFmpeg
# libraries and libpq it opens at run time (dlopen), each at the lowest version
# that has every function vqueue takes from it.
# lintian (`make test-deb` fails on any error or warning) leaves information
# tags only:
# - hardening-no-bindnow: linked without -z now (relro is on). Binding every
#   imported symbol at start would cost `submit` and `status` start-up time.
# - hardening-no-fortify-functions: SwiftPM compiles the C shims without
#   -D_FORTIFY_SOURCE (a cSettings define in Package.swift could add it).
# - package-supports-alternative-init-but-no-init.d-script: the worker ships
#   as systemd units only.
# - spelling-error-in-binary (about 20): strings of the statically linked ICU
#   data, Foundation and GRDB; none is vqueue's.
DEB_ARCH   = $(shell dpkg --print-architecture)
DEB        = .build/vqueue_$(VERSION)_$(DEB_ARCH).deb
DEB_ROOT   := .build/deb/root
DEB_DOC    := $(DEB_ROOT)/usr/share/doc/vqueue
# The package's Maintainer: the last commit's author unless given.
DEB_MAINTAINER ?= $(or $(shell git log -1 --format='%an <%ae>' 2>/dev/null),vqueue maintainers <root@localhost>)
DEB_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null)
DEB_DATE   := $(shell date -R -u -d @$$(git log -1 --format=%ct 2>/dev/null || date +%s))

deb: deps-deb
	rm -rf .build/deb
	$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/$(DEB_ROOT) PREFIX=/usr UNITDIR=/lib/systemd/system
	install -d $(DEB_DOC) $(DEB_ROOT)/DEBIAN
	install -m 644 dist/deb/copyright $(DEB_DOC)/copyright
	gzip -9n <README.md >$(DEB_DOC)/README.md.gz
	printf 'vqueue (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- %s  %s\n' \
	    '$(VERSION)' '$(or $(DEB_COMMIT),unknown)' '$(DEB_MAINTAINER)' '$(DEB_DATE)' | gzip -9n >$(DEB_DOC)/changelog.gz
	chmod 644 $(DEB_DOC)/*
	install -m 755 dist/deb/postinst dist/deb/prerm dist/deb/postrm $(DEB_ROOT)/DEBIAN/
	depends=$$(sh dist/deb/depends.sh $(DEB_ROOT)/usr/bin/vqueue) && \
	size=$$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1) && \
	sed -e 's|@VERSION@|$(VERSION)|' -e 's|@ARCH@|$(DEB_ARCH)|' -e 's|@MAINTAINER@|$(DEB_MAINTAINER)|' \
	    -e "s|@SIZE@|$$size|" -e "s|@DEPENDS@|$$depends|" dist/deb/control.in >$(DEB_ROOT)/DEBIAN/control
	cd $(DEB_ROOT) && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | \
	    xargs -0 md5sum >DEBIAN/md5sums && chmod 644 DEBIAN/md5sums DEBIAN/control
	find $(DEB_ROOT) -type d -exec chmod 755 {} +
	dpkg-deb --build --root-owner-group $(DEB_ROOT) $(DEB)

# Installs the package on this machine (apt-get, which brings its
# dependencies), checks it and what `make install` puts where, runs a job with
# the installed binary, and purges it. Not part of `make test`: it changes the
# system (/usr, a vqueue user) and needs a release build.
test-deb: deps-test
	$(call apt-install,$(DEB_TEST_PACKAGES))
	bash Tests/Package/deb-test.sh

clean:
	rm -rf .build
