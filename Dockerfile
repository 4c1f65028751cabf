# logscrub: a static-enough binary on a distroless base, running as non-root.
#   docker build -t logscrub .
#   docker run --rm -i logscrub < examples/app.log
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin logscrub \
 && strip target/release/logscrub

# Only the binary and the C runtime it links (glibc, libgcc): no shell, no
# package manager. UID 65532 ("nonroot") matches the chart's securityContext.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/logscrub /usr/local/bin/logscrub
USER 65532:65532
EXPOSE 5170 24224 9880
ENTRYPOINT ["/usr/local/bin/logscrub"]
