# Tributary: the short menu. `make help` lists it.
SHELL := /bin/bash
GO ?= go
LISTEN ?= 127.0.0.1:8080
DEMO_DEVICES ?= 6
BENCHTIME ?=
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
# The commit of build_info, for builds where the go command records none
# (-buildvcs=false, a git worktree, a tarball).
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -s -w -X github.com/tributary-iot/tributary/internal/buildinfo.Version=$(VERSION) -X github.com/tributary-iot/tributary/internal/buildinfo.Commit=$(COMMIT)
# apt-get needs root; use sudo where we are not root and it exists.
SUDO := $(shell [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null && echo sudo)

.PHONY: help demo test test-unit test-arm deps build bench lint cross images deb clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

demo: ## cloud + embedded Redis + simulated fleet on 127.0.0.1:8080 (LISTEN=..., REDIS_URL=... to change)
	$(GO) run -ldflags '$(LDFLAGS)' ./cmd/cloud --listen $(LISTEN) --demo $(DEMO_DEVICES) --insecure-open-commands

deps: ## install the system packages the tests need (redis-server, mosquitto, chromium, qemu-user, prometheus) where missing
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null || missing="$$missing mosquitto"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v qemu-arm >/dev/null && command -v qemu-aarch64 >/dev/null || missing="$$missing qemu-user"; \
	command -v prometheus >/dev/null && command -v promtool >/dev/null || missing="$$missing prometheus"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

test-unit: ## the fast lane: go test -short, no redis-server, mosquitto, chromium or built binaries (those tests skip)
	$(GO) test -short -count=1 ./...

test: deps ## go vet + every test with the race detector (real redis-server, mosquitto and chromium), then test-arm
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...
	$(MAKE) --no-print-directory test-arm

bench: ## benchmarks: fan-out to 100 WebSocket clients, ingest, spool appends, backlog drains, bridge throughput, chip reads, the edge dashboard's footprint and local history
	$(GO) test -run '^$$' -bench . -benchmem $(if $(BENCHTIME),-benchtime $(BENCHTIME)) ./...

build: ## build edge, cloud and bridge into ./bin
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/edge ./cmd/cloud ./cmd/bridge

cross: ## static edge binaries for the Raspberry Pi: armv6, armv7, arm64 (sizes printed)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=6 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/edge-linux-armv6 ./cmd/edge
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/edge-linux-armv7 ./cmd/edge
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/edge-linux-arm64 ./cmd/edge
	@for f in $(BIN)/edge-linux-armv6 $(BIN)/edge-linux-armv7 $(BIN)/edge-linux-arm64; do \
		stat -c %s $$f | awk -v f=$$f '{printf "  %-24s %9d bytes  %5.1f MiB\n", f, $$1, $$1/1048576}'; done

# Images: every binary for every platform (os-arch+variant, GOARCH, GOARM),
# then one multi-platform OCI image each, without a container engine.
IMAGE_PLATFORMS := linux-amd64:amd64: linux-arm64:arm64: linux-armv7:arm:7 linux-armv6:arm:6
IMAGE_TAG ?= latest
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH

images: ## container images of cloud, bridge, edge for linux/amd64, arm64, arm/v7, arm/v6: bin/images/*.oci.tar (podman/docker load -i), no Docker needed
	@for p in $(IMAGE_PLATFORMS); do IFS=: read -r slug arch arm <<<"$$p"; \
		echo "  go build $$slug"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch GOARM=$$arm $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
			-o $(BIN)/images/bin/$$slug/ ./cmd/cloud ./cmd/bridge ./cmd/edge || exit 1; done
	$(GO) run ./internal/ociimage/mkimage --bin $(BIN)/images/bin --out $(BIN)/images --tag $(IMAGE_TAG) \
		--version $(VERSION) --revision $(COMMIT)

# Debian packages of the edge: Debian architecture, GOARCH, GOARM. armhf is
# GOARM=6, so that one package runs on every Pi with 32-bit Raspberry Pi OS
# (the Zero and Pi 1 are ARMv6).
DEB_ARCHES := arm64:arm64: armhf:arm:6 amd64:amd64:

deb: ## Debian packages of the edge (arm64, armhf for every 32-bit Pi, amd64): bin/deb/tributary-edge_*.deb, with dpkg-deb
	@for a in $(DEB_ARCHES); do IFS=: read -r deb arch arm <<<"$$a"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch GOARM=$$arm $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
			-o $(BIN)/deb/$$deb/tributary-edge ./cmd/edge || exit 1; \
		f=$$(deploy/deb/build.sh $$deb $(BIN)/deb/$$deb/tributary-edge $(VERSION) $(BIN)/deb) || exit 1; \
		stat -c %s $$f | awk -v f=$$f '{printf "  %-52s %9d bytes  %5.1f MiB\n", f, $$1, $$1/1048576}'; done

# The sensor packages whose tests test-arm runs on each ARM target.
ARM_TEST_PKGS := ./sensors/... ./sim/i2csim/... ./sim/chip/... ./sim/gpiosim/... ./sim/w1sim/...

test-arm: ## the sensor packages' tests, an --sim smoke run of each edge binary and a command through it, under qemu-user (armv6 as an ARM1176)
	@command -v qemu-arm >/dev/null && command -v qemu-aarch64 >/dev/null || { \
		echo "test-arm: FAIL: qemu-user is not installed (qemu-arm, qemu-aarch64): run make deps" >&2; exit 1; }
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=6 $(GO) test -count=1 -exec 'qemu-arm -cpu arm1176' $(ARM_TEST_PKGS)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) test -count=1 -exec 'qemu-arm -cpu cortex-a7' $(ARM_TEST_PKGS)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) test -count=1 -exec qemu-aarch64 $(ARM_TEST_PKGS)
	$(GO) test -count=1 -timeout 30m -tags armsmoke -run '^TestARM(Smoke|CommandPath)$$' -v ./internal/e2e

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean: ## remove ./bin
	rm -rf $(BIN)
