# graphdir — every target a newcomer needs. `make run` and `make test` find or
# start PostgreSQL themselves (see README "PostgreSQL").
GO            ?= go
# staticcheck is pinned and installed into bin/ on first use (make lint);
# a new version installs beside the old one.
STATICCHECK_VERSION := v0.8.2
STATICCHECK   := bin/staticcheck-$(STATICCHECK_VERSION)/staticcheck
BIN           := bin/graphdir
STATE_DIR     ?= .graphdir
FUZZTIME      ?= 60s

.PHONY: build run run-tls test test-short test-cluster lint fuzz cert clean bench

build:
	$(GO) build -o $(BIN) ./cmd/graphdir

## run: serve on http://localhost:8080 (private PostgreSQL unless DATABASE_URL is set).
## On the first start it also creates a bootstrap admin application and prints its client id and
## secret once (GRAPHDIR_BOOTSTRAP_APP=1; see README "Applications and client credentials").
## Mail is not sent: GRAPHDIR_DEV_OUTBOX=1 writes each message, codes included, to the log
## (README "Mail"); a GRAPHDIR_SMTP_URL in the environment wins.
run: build
	@echo "make run: GRAPHDIR_DEV_OUTBOX=1 - mail (one-time codes included) is written to the log, not sent"
	GRAPHDIR_BOOTSTRAP_APP=1 GRAPHDIR_DEV_OUTBOX=1 ./$(BIN) serve

## run-tls: serve on https://localhost:8443 with a local development certificate.
run-tls: build cert
	@echo "make run-tls: GRAPHDIR_DEV_OUTBOX=1 - mail (one-time codes included) is written to the log, not sent"
	GRAPHDIR_BOOTSTRAP_APP=1 GRAPHDIR_DEV_OUTBOX=1 GRAPHDIR_PUBLIC_URL=https://localhost:8443 ./$(BIN) serve --addr :8443 \
		--tls-cert $(STATE_DIR)/tls/cert.pem --tls-key $(STATE_DIR)/tls/key.pem

cert: build
	./$(BIN) devcert --dir $(STATE_DIR)/tls

## test: every test, against real PostgreSQL (GRAPHDIR_TEST_DATABASE_URL, else
## 127.0.0.1:5432, else the private instance). The fuzz seed corpus runs too.
test:
	$(GO) test -count=1 -race -timeout 30m ./...

## test-cluster: the cluster test (build tag cluster, cmd/graphdir/cluster): a PostgreSQL
## primary and streaming replica, PgBouncer (transaction mode), three `graphdir serve` and
## HAProxy health-checking /readyz, all started and stopped by the test; scenarios under load
## (replica routing, read-your-writes, replica stopped, SIGTERM and SIGKILL of an instance,
## throttling across instances, sign-in flows across instances). About 2 minutes. Installs
## Debian's pgbouncer and haproxy when missing and run as root; otherwise says what to install.
CLUSTER_PACKAGES := pgbouncer haproxy
test-cluster:
	@missing=""; for p in $(CLUSTER_PACKAGES); do \
		command -v $$p >/dev/null || [ -x /usr/sbin/$$p ] || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "make test-cluster: installing$$missing"; \
			apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing || exit 1; \
		else \
			echo "make test-cluster needs$$missing: sudo apt-get install$$missing"; exit 1; \
		fi; \
	fi
	$(GO) test -count=1 -tags cluster -timeout 15m -v -run 'TestCluster' ./cmd/graphdir/cluster

## bench: seed graphdir_bench (on the make test server) with BENCH_USERS users (default
## 1,000,000; reused when already seeded), then load every scenario for BENCH_DURATION
## (default 10s) at 16 clients against graphdir and raw SQL; writes bench/results/latest.md.
bench: build
	./$(BIN) bench

## lint: gofmt, go vet and the pinned staticcheck over the whole tree (the cluster test's
## package again with its build tag).
lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags cluster ./cmd/graphdir/cluster
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags cluster ./cmd/graphdir/cluster

$(STATICCHECK):
	GOBIN=$(CURDIR)/$(dir $(STATICCHECK)) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

fuzz:
	$(GO) test ./pkg/odata -run '^$$' -fuzz FuzzParseFilter -fuzztime $(FUZZTIME)

clean:
	rm -rf bin
