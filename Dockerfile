# Small static image running as non-root.
#   docker build --build-arg VERSION=$(git describe --tags --always) --build-arg REVISION=$(git rev-parse HEAD) -t kamailio_exporter .
#   docker run -v /var/run/kamailio:/var/run/kamailio -p 9494:9494 kamailio_exporter
FROM golang:1.26 AS build
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
      org.opencontainers.image.description="Prometheus exporter for the Kamailio SIP server (BINRPC)"
COPY --from=build /out/kamailio_exporter /bin/kamailio_exporter
# nobody:nogroup; give it access to the ctl socket (ctl's user/group/mode
# parameters) or use a tcp ctl listener.
USER 65534:65534
EXPOSE 9494
ENTRYPOINT ["/bin/kamailio_exporter"]
