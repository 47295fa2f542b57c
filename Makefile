VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH   ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
PKG      := github.com/prometheus/common/version
LDFLAGS  := -s -w -X $(PKG).Version=$(VERSION) -X $(PKG).Revision=$(REVISION) -X $(PKG).Branch=$(BRANCH) -X $(PKG).BuildUser=$(shell id -un 2>/dev/null)@$(shell hostname 2>/dev/null) -X $(PKG).BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
# BUILD_DIR holds the release archives; override it on the command line.
BUILD_DIR := .build

.PHONY: build test unit lint fuzz bench release deb docker clean

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o kamailio_exporter .

# The whole suite, as CI runs it (installs Kamailio and friends from Debian).
test:
	scripts/test.sh

unit:
	go test -race ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files "*.go"))" || { gofmt -l $$(git ls-files "*.go"); exit 1; }
	go vet ./...
	go vet -tags e2e ./e2e

fuzz:
	go test -run='^$$' -fuzz='^FuzzDecodePayload$$' -fuzztime=30s -fuzzminimizetime=5s ./binrpc
	go test -run='^$$' -fuzz='^FuzzCollectors$$' -fuzztime=30s -fuzzminimizetime=5s ./collector

bench:
	go test -run='^$$' -bench=. -benchmem ./binrpc ./collector

release:
	rm -rf $(BUILD_DIR)/release && mkdir -p $(BUILD_DIR)/release
	set -e; for p in $(PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; name=kamailio_exporter-$(VERSION).$$os-$$arch; \
	  mkdir -p $(BUILD_DIR)/$$name; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath -ldflags "$(LDFLAGS)" -o $(BUILD_DIR)/$$name/kamailio_exporter .; \
	  cp LICENSE README.md CHANGELOG.md deploy/systemd/* $(BUILD_DIR)/$$name/; \
	  tar -C $(BUILD_DIR) -czf $(BUILD_DIR)/release/$$name.tar.gz $$name; rm -rf $(BUILD_DIR)/$$name; \
	done
	cd $(BUILD_DIR)/release && sha256sum *.tar.gz > sha256sums.txt

# The Debian package $(BUILD_DIR)/kamailio-exporter_<version>_<arch>.deb, built with
# dpkg-deb for GOARCH (default: this machine's; make deb GOARCH=arm64 cross-builds).
GOARCH ?= $(shell go env GOARCH)
deb:
	mkdir -p $(BUILD_DIR)/deb
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) go build -trimpath -ldflags "$(LDFLAGS)" -o $(BUILD_DIR)/deb/kamailio_exporter .
	VERSION=$(VERSION) GOARCH=$(GOARCH) scripts/build-deb.sh $(BUILD_DIR)/deb/kamailio_exporter $(BUILD_DIR)
	rm -rf $(BUILD_DIR)/deb

docker:
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) -t kamailio_exporter:$(VERSION) .

clean:
	rm -rf $(BUILD_DIR) kamailio_exporter
