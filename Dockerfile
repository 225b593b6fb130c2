# scalingo-db-fake as a docker-compose test dependency.
#
#   docker build -t scalingo-db-fake .
#   docker run --rm -p 8080:8080 scalingo-db-fake
#
# Configured by environment variables (see README: BIND, PORT, FIXTURES,
# DB_BEARER_TOKEN, SEED, CLOCK, LOG, LOG_FORMAT, …). The health check uses the
# binary's own `healthcheck` subcommand, so the image needs no curl; it finds
# the port in PORT_FILE, so PORT=0 works too. examples/compose/ runs it.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src

# The dependencies, in a layer of their own: built against stand-in sources,
# so a change to src/ does not rebuild them (only Cargo.toml/Cargo.lock do).
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && echo 'fn main() {}' > benches/throughput.rs \
 && cargo build --release --locked --bin scalingo-db-fake \
 && rm -rf src target/release/scalingo-db-fake* \
           target/release/.fingerprint/scalingo-db-fake-* \
           target/release/deps/scalingo_db_fake-* target/release/deps/libscalingo_db_fake-*

# The fake itself (the release profile strips the binary).
COPY src ./src
COPY fixtures ./fixtures
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --bin scalingo-db-fake

# glibc and libgcc, nothing else (no shell, no package manager); runs as the
# image's `nonroot` user (65532).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/scalingo-db-fake /usr/local/bin/scalingo-db-fake
COPY fixtures /fixtures
ENV BIND=0.0.0.0 \
    PORT=8080 \
    PORT_FILE=/tmp/scalingo-db-fake.port \
    LOG=info \
    LOG_FORMAT=text
EXPOSE 8080
USER 65532:65532
HEALTHCHECK --interval=2s --timeout=2s --start-period=1s --retries=10 \
    CMD ["scalingo-db-fake", "healthcheck"]
ENTRYPOINT ["scalingo-db-fake"]
