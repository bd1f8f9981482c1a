# The sessionmesh demo worker: one static binary in an empty image, compiled
# in a build stage, so that "docker compose up -d --build" (or docker build .)
# needs nothing but Docker on the host.
#
# GO_IMAGE selects the build stage's image: the public golang image of
# go.mod's Go release by default; machines that cannot pull it build a
# look-alike from the host's Go (scripts/docker-local-images.sh golang, then
# docker build --build-arg GO_IMAGE=sessionmesh/golang:local; that is what
# scripts/docker-build.sh does when GO_IMAGE is set). Empty is the default
# too: docker-compose.yml passes GO_IMAGE on, set or not.
ARG GO_IMAGE

FROM ${GO_IMAGE:-golang:1.26} AS build
# scripts/docker-build.sh finds this stage's untagged leftovers by it
LABEL sessionmesh.stage=build
WORKDIR /src
# the modules first: this layer is rebuilt only when go.mod or go.sum change
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# static (no cgo), no file system paths or symbol table in the binaries;
# test/loadcheck too, for the loadcheck target below (it shares the
# compilation of the standard library). The build cache is dropped in the
# same step: it would make this stage's layer some 250 MB larger.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/demo ./test/loadcheck && \
    go clean -cache

# docker build --target loadcheck -t sessionmesh/loadcheck:local .
# test/loadcheck, to count lost writes against the running stack without Go
# on the host (README, "Run the cluster"). It speaks to loopback URLs only:
# run it with --network host.
FROM scratch AS loadcheck
LABEL sessionmesh.stage=loadcheck
COPY --from=build /out/loadcheck /loadcheck
USER 65532:65532
ENTRYPOINT ["/loadcheck"]

# The demo worker: the last stage, what docker build builds by default.
FROM scratch AS demo
COPY --from=build /out/demo /demo
# nobody's uid: the worker needs no privileges and no writable file system
USER 65532:65532
# 8080 HTTP; 8081 the admin listener (GET /cluster) when started with
# -admin :8081 (its default is the container's loopback, reachable from
# nowhere else); 7946 cluster gossip (tcp and udp); 7947 cluster peer
# traffic (the gossip port + 1 unless SESSIONS_CLUSTER_PEER_BIND says
# otherwise)
EXPOSE 8080 8081 7946 7946/udp 7947
# An empty image has no shell or curl: the binary itself asks
# http://127.0.0.1:PORT/healthz (PORT from -addr) and exits 0 or 1.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD ["/demo", "-healthcheck"]
ENTRYPOINT ["/demo"]
