# The operator's image, for people with a registry and a container engine.
# `make image` builds the same image offline (hack/image), from an empty
# base; test/image checks that both run /manager as 65532:65532.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) \
#     --build-arg COMMIT=$(git rev-parse HEAD) -t registry.local:5000/incident-operator:v1 .

FROM golang:1.26 AS builder
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=unknown
ARG COMMIT=unknown
WORKDIR /workspace
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static, with the zone data embedded (main.go imports time/tzdata): the
# final stage has no C library to link against.
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath \
    -ldflags "-s -w -X github.com/incidentops/incident-operator/internal/version.Version=${VERSION} -X github.com/incidentops/incident-operator/internal/version.Commit=${COMMIT}" \
    -o manager .
# The witness (cmd/witness), which another team runs from this image with
# its own key (charts/incident-witness).
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags "-s -w" -o witness ./cmd/witness

# Distroless static carries CA certificates, /etc/passwd with nonroot and
# /tmp, as the offline image does.
FROM gcr.io/distroless/static:nonroot
ARG VERSION=unknown
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="incident-operator" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.source="https://github.com/incidentops/incident-operator"
WORKDIR /
COPY --from=builder /workspace/manager /manager
COPY --from=builder /workspace/witness /witness
USER 65532:65532
ENTRYPOINT ["/manager"]
