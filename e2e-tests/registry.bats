#!/usr/bin/env bats
# Publishing the module as Kubewarden users do: `kwctl push` to an OCI
# registry, `kwctl pull` and `kwctl run registry://...` back from it. Two
# throwaway registries (Debian's docker-registry, the CNCF distribution
# server) listen on loopback: one over plain HTTP, reached as an insecure
# source; one over TLS with a certificate from the suite's own authority
# and basic authentication, reached through source_authorities and a
# Docker config. The cases use only kwctl's arguments and output.

load helpers

ANNOTATED_POLICY_FILE="$(from_root "${ANNOTATED_POLICY:-annotated-policy.wasm}")"

# Starts docker-registry with config file $1 on a free port of 127.0.0.1,
# probing it with the curl arguments that follow; prints the port.
start_registry() {
  local config="$1"
  shift
  local attempt port
  for attempt in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 20000))
    # A port something already answers on is taken.
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      continue
    fi
    sed "s/@PORT@/$port/" "$config" >"$config.$port"
    docker-registry serve "$config.$port" >"$config.$port.log" 2>&1 &
    echo $! >>"$BATS_FILE_TMPDIR/registry.pids"
    local tries
    for tries in $(seq 50); do
      # Any HTTP answer, 401 included, means the registry is up.
      if curl -s -o /dev/null "$@" "$(scheme_of "$config")://127.0.0.1:$port/v2/"; then
        echo "$port"
        return 0
      fi
      sleep 0.1
    done
  done
  echo "docker-registry did not start; its log:" >&2
  cat "$config".*.log >&2
  return 1
}

# The scheme a registry config serves: https when it names a certificate.
scheme_of() {
  if grep -q certificate: "$1"; then echo https; else echo http; fi
}

setup_file() {
  local dir="$BATS_FILE_TMPDIR"

  # The plain registry, trusted as an insecure source.
  cat >"$dir/plain.yml" <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $dir/plain-store}}
http: {addr: "127.0.0.1:@PORT@"}
YAML
  PLAIN_PORT="$(start_registry "$dir/plain.yml")"
  export PLAIN="127.0.0.1:$PLAIN_PORT"

  # The secure registry: an authority of the suite's own signs its
  # certificate for 127.0.0.1; alice's password opens it.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=spot-balancer e2e authority" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=127.0.0.1" -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    >"$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 2 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
  htpasswd -Bbn alice s3cret >"$dir/htpasswd"
  cat >"$dir/secure.yml" <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $dir/secure-store}}
http:
  addr: "127.0.0.1:@PORT@"
  tls: {certificate: $dir/server.pem, key: $dir/server.key}
auth:
  htpasswd: {realm: spot-balancer-e2e, path: $dir/htpasswd}
YAML
  SECURE_PORT="$(start_registry "$dir/secure.yml" --cacert "$dir/ca.pem")"
  export SECURE="127.0.0.1:$SECURE_PORT"

  cat >"$dir/sources.yml" <<YAML
insecure_sources: ["$PLAIN"]
source_authorities:
  "$SECURE":
    - type: Path
      path: $dir/ca.pem
YAML
  mkdir -p "$dir/docker" "$dir/no-docker"
  printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$SECURE" "$(printf alice:s3cret | base64)" \
    >"$dir/docker/config.json"
  echo '{}' >"$dir/no-docker/config.json"
  echo '{}' >"$dir/no-sources.yml"
  export SOURCES="$dir/sources.yml"
}

teardown_file() {
  if [ -f "$BATS_FILE_TMPDIR/registry.pids" ]; then
    xargs kill <"$BATS_FILE_TMPDIR/registry.pids" 2>/dev/null || true
  fi
}

# Runs `kwctl <subcommand> ...` with the suite's sources and credentials.
kwctl_with_sources() {
  local subcommand="$1"
  shift
  run --separate-stderr "$KWCTL_BIN" "$subcommand" \
    --sources-path "$SOURCES" \
    --docker-config-json-path "$BATS_FILE_TMPDIR/docker" "$@"
}

# Fails, showing the command's streams, unless it exited with 0.
assert_success() {
  if [ "$status" -ne 0 ]; then
    echo "status: $status" >&2
    echo "stdout: $output" >&2
    echo "stderr: $stderr" >&2
    return 1
  fi
}

# The manifest at $1 (host:port/repository:tag), fetched with curl and the
# extra curl arguments that follow.
manifest_of() {
  local host="${1%%/*}" path="${1#*/}"
  shift
  curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$@" \
    "$(if [ "$host" = "$PLAIN" ]; then echo http; else echo https; fi)://$host/v2/${path%:*}/manifests/${path##*:}"
}

# Pushes to the secure registry's repository $3 with the sources file $1
# and the Docker config in folder $2. The push must fail, print nothing on
# stdout and store no manifest.
assert_secure_push_refused() {
  run --separate-stderr "$KWCTL_BIN" push --sources-path "$1" --docker-config-json-path "$2" \
    "$ANNOTATED_POLICY_FILE" "$SECURE/policies/$3:v1"
  if [ "$status" -eq 0 ] || [ -n "$output" ]; then
    echo "the push was not refused; status $status, stdout: $output" >&2
    return 1
  fi
  if manifest_of "$SECURE/policies/$3:v1" --cacert "$BATS_FILE_TMPDIR/ca.pem" \
    -u alice:s3cret >/dev/null; then
    echo "a refused push stored a manifest" >&2
    return 1
  fi
}

@test "push prints the pinned reference of a manifest holding the module" {
  kwctl_with_sources push "$ANNOTATED_POLICY_FILE" "registry://$PLAIN/policies/spot-balancer:v1"
  assert_success
  [[ "$output" =~ ^"Policy successfully pushed: $PLAIN/policies/spot-balancer@"(sha256:[0-9a-f]{64})$ ]]
  local digest="${BASH_REMATCH[1]}"

  local manifest
  manifest="$(manifest_of "$PLAIN/policies/spot-balancer:v1")"
  [ "sha256:$(printf '%s' "$manifest" | sha256sum | cut -d' ' -f1)" = "$digest" ]
  response="$manifest"
  assert_json '.config.mediaType' '"application/vnd.wasm.config.v1+json"'
  assert_json '[.layers[].mediaType]' '["application/vnd.wasm.content.layer.v1+wasm"]'
  assert_json '.layers[0].digest' "\"sha256:$(sha256sum "$ANNOTATED_POLICY_FILE" | cut -d' ' -f1)\""
  assert_json '.layers[0].size' "$(stat -c %s "$ANNOTATED_POLICY_FILE")"
  # The metadata's single-line annotations travel with the manifest; the
  # usage, the whole README, does not fit an OCI annotation.
  assert_json '.annotations["io.kubewarden.policy.title"]' '"spot-balancer"'
  assert_json '.annotations["org.opencontainers.image.source"]' \
    '"https://github.com/spot-balancer/spot-balancer"'
  assert_json '.annotations["io.kubewarden.policy.usage"]' 'null'
}

@test "pull gives back the pushed module byte for byte, by tag and by digest" {
  kwctl_with_sources push "$ANNOTATED_POLICY_FILE" "$PLAIN/policies/spot-balancer:v2"
  assert_success
  local pinned="${output#Policy successfully pushed: }"

  kwctl_with_sources pull "registry://$PLAIN/policies/spot-balancer:v2" \
    --output-path "$BATS_TEST_TMPDIR/by-tag.wasm"
  assert_success
  cmp "$ANNOTATED_POLICY_FILE" "$BATS_TEST_TMPDIR/by-tag.wasm"

  kwctl_with_sources pull "registry://$pinned" --output-path "$BATS_TEST_TMPDIR/by-digest.wasm"
  assert_success
  cmp "$ANNOTATED_POLICY_FILE" "$BATS_TEST_TMPDIR/by-digest.wasm"
}

@test "run from the registry answers as the local module does" {
  kwctl_with_sources push "$ANNOTATED_POLICY_FILE" "$PLAIN/policies/spot-balancer:v3"
  assert_success

  kwctl_with_sources run --request-path "$FIXTURES/spark-executor-with-id.json" \
    --settings-json '{"defaultSpotRatio": "BALANCED"}' \
    "registry://$PLAIN/policies/spot-balancer:v3"
  assert_success
  local remote="$output"
  run --separate-stderr "$KWCTL_BIN" run --request-path "$FIXTURES/spark-executor-with-id.json" \
    --settings-json '{"defaultSpotRatio": "BALANCED"}' "$ANNOTATED_POLICY_FILE"
  assert_success
  [ "$(jq -cS . <<<"$remote")" = "$(jq -cS . <<<"$output")" ]
  response="$remote"
  assert_json '.patchType' '"JSONPatch"'
}

@test "a module without metadata is refused unless forced" {
  kwctl_with_sources push "$POLICY_FILE" "$PLAIN/policies/unannotated:v1"
  [ "$status" -ne 0 ]
  grep -Fq 'Cannot push a policy that is not annotated' <<<"$stderr"
  manifest_of "$PLAIN/policies/unannotated:v1" && return 1

  kwctl_with_sources push --force "$POLICY_FILE" "$PLAIN/policies/unannotated:v1"
  assert_success
  grep -Fq 'Warning: pushing a non-annotated policy!' <<<"$stderr"
  response="$(manifest_of "$PLAIN/policies/unannotated:v1")"
  assert_json '.layers[0].digest' "\"sha256:$(sha256sum "$POLICY_FILE" | cut -d' ' -f1)\""
}

@test "a registry behind TLS and a password takes the module with the suite's authority and credentials" {
  kwctl_with_sources push "$ANNOTATED_POLICY_FILE" "$SECURE/policies/spot-balancer:v1"
  assert_success
  [[ "$output" =~ ^"Policy successfully pushed: $SECURE/policies/spot-balancer@sha256:"[0-9a-f]{64}$ ]]

  kwctl_with_sources pull "registry://$SECURE/policies/spot-balancer:v1" \
    --output-path "$BATS_TEST_TMPDIR/secure.wasm"
  assert_success
  cmp "$ANNOTATED_POLICY_FILE" "$BATS_TEST_TMPDIR/secure.wasm"

  local manifest
  manifest="$(manifest_of "$SECURE/policies/spot-balancer:v1" --cacert "$BATS_FILE_TMPDIR/ca.pem" \
    -u alice:s3cret)"
  response="$manifest"
  assert_json '.layers[0].digest' "\"sha256:$(sha256sum "$ANNOTATED_POLICY_FILE" | cut -d' ' -f1)\""
}

@test "the secure registry refuses a push without credentials" {
  assert_secure_push_refused "$SOURCES" "$BATS_FILE_TMPDIR/no-docker" anonymous
}

@test "the secure registry is refused without its authority" {
  # No sources: the suite's authority is unknown, so TLS does not verify.
  assert_secure_push_refused "$BATS_FILE_TMPDIR/no-sources.yml" "$BATS_FILE_TMPDIR/docker" unverified
}
