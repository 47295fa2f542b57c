# Small static image running as non-root.
#   docker build --build-arg VERSION=$(git describe --tags --always) --build-arg REVISION=$(git rev-parse HEAD) -t kamailio_exporter .
#   docker run -d -v /var/run/kamailio:/var/run/kamailio --group-add "$(getent group kamailio | cut -d: -f3)" \
#     -p 9494:9494 kamailio_exporter
# The Go of go.mod's go line (scripts/check-packaging.sh checks that they agree).
FROM golang:1.26.8 AS build
ARG VERSION=dev
ARG REVISION=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=${VERSION} -X github.com/prometheus/common/version.Revision=${REVISION} -X github.com/prometheus/common/version.Branch=docker" \
      -o /out/kamailio_exporter .

FROM scratch
LABEL org.opencontainers.image.title="kamailio_exporter" \
      org.opencontainers.image.description="Prometheus exporter for the Kamailio SIP server (BINRPC)" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/kamailio_exporter /bin/kamailio_exporter
# CA certificates for https URLs (--kamailio.custom-metrics-url,
# --rtpengine.metrics-url). unixd: needs no /tmp (its reply socket is bound in
# Linux's abstract namespace) but works only in Kamailio's network namespace.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY LICENSE /LICENSE
# nobody:nogroup. For ctl's unix socket, mount its directory and add the
# group that may open it (docker run --group-add GID); or use a TCP ctl
# listener (on the host's loopback: docker run --network host).
USER 65534:65534
EXPOSE 9494
ENTRYPOINT ["/bin/kamailio_exporter"]
