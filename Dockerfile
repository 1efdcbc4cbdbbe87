# syntax=docker/dockerfile:1
#
# One image for any of the example binaries. BIN picks the binary (a directory
# of ./examples) and PORT the port it listens on inside the container:
#
#   docker build -t kitshop/shop:latest .
#   docker build --build-arg BIN=catalogsvc --build-arg PORT=5002 -t kitshop/catalogsvc:latest .
#
# BIN and PORT: shop 8080 (the whole shop), usersvc 5001, catalogsvc 5002,
# ordersvc 5003, inventorysvc 5004, gateway 8080. deploy/README.md has the rest.

# The build stage: Go 1.26, a static binary without cgo (SQLite is pure Go).
FROM golang:1.26-bookworm AS build
WORKDIR /src
# The modules first, so that changing the code does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG BIN=shop
ENV CGO_ENABLED=0
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w" -o /out/kitshop ./examples/${BIN}
# The data dir, owned by the image's user, so that a new volume mounted on it
# is writable by that user.
RUN mkdir -p /out/data

# The final stage: no shell, no package manager, a non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
ARG BIN=shop
ARG PORT=8080
LABEL org.opencontainers.image.title="kitshop ${BIN}" \
      org.opencontainers.image.source="https://github.com/kitshop/shop"
COPY --from=build /out/kitshop /kitshop
COPY --from=build --chown=65532:65532 /out/data /data
# 65532 is the distroless image's "nonroot" user.
USER 65532:65532
ENV SHOP_ADDR=0.0.0.0:${PORT} \
    SHOP_DATA_DIR=/data
VOLUME /data
EXPOSE ${PORT}
# No shell in the image: the binary checks itself (GET /healthz on the port of
# SHOP_ADDR, exit 0 on 200).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/kitshop", "healthcheck"]
ENTRYPOINT ["/kitshop"]
