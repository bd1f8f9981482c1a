# The sessionmesh demo worker: one static binary in an empty image.
#
# The binary is compiled on the host, not in a build stage, so that the image
# builds where no golang image can be pulled: run scripts/docker-build.sh
# (it runs CGO_ENABLED=0 go build into bin/docker/demo, then docker build).
# A plain "docker build ." without that binary fails at the COPY below.
FROM scratch
COPY bin/docker/demo /demo
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
