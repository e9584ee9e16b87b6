#!/usr/bin/env bash
# Builds the Pulumi engine tenantdb runs on (the `pulumi` CLI, the Node.js language host and the
# postgresql and random resource plugins) from Go modules, into a cache outside the checkout keyed
# by the versions and by this folder's sources. A second run finds the cache and takes seconds.
#
#   build.sh            build what is missing; print the folder with the binaries (last stdout line)
#   build.sh --locate   print that folder if it is complete, exit 1 otherwise (never builds)
#
# Environment: TENANTDB_ENGINE_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/tenantdb/pulumi-engine).
# See README.md beside this file for the versions, the fallbacks and what the proxy refused.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
log() { echo "pulumi-engine: $*" >&2; }

# The npm packages the binaries must match, from the lockfile.
lock_version() {
    node -e 'const p = require(process.argv[1]).packages["node_modules/" + process.argv[2]];
             if (!p) { console.error(process.argv[2] + " is not in package-lock.json"); process.exit(1); }
             console.log(p.version)' "$root/package-lock.json" "$1"
}
pulumi_version=$(lock_version @pulumi/pulumi)
postgresql_version=$(lock_version @pulumi/postgresql)
random_version=$(lock_version @pulumi/random)

# The CLI module must be the SDK's release: the Automation API checks the CLI's version.
# The version go.mod requires of a module (in a require block or a one-line require).
required_version() { awk -v m="$1" '{ for (i = 1; i < NF; i++) if ($i == m) { print $(i + 1); exit } }' "$2"; }
cli_module_version=$(required_version github.com/pulumi/pulumi/pkg/v3 "$here/cli/go.mod")
if [ "$cli_module_version" != "v$pulumi_version" ]; then
    log "tools/pulumi-engine/cli/go.mod pins pkg/v3 $cli_module_version but the lockfile has @pulumi/pulumi $pulumi_version:"
    log "  cd tools/pulumi-engine/cli && go get github.com/pulumi/pulumi/pkg/v3@v$pulumi_version github.com/pulumi/pulumi/sdk/v3@v$pulumi_version && go mod tidy"
    exit 1
fi
language_version=$(required_version github.com/pulumi/pulumi/sdk/v3 "$here/language-nodejs/go.mod")

sources_hash=$( (cd "$here" && find . -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' -o -name 'build.sh' \) | LC_ALL=C sort | xargs sha256sum; go version) | sha256sum | cut -c1-12)
key="pulumi-v$pulumi_version-postgresql-v$postgresql_version-random-v$random_version-$sources_hash"
cache=${TENANTDB_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tenantdb/pulumi-engine}
out="$cache/$key"
binaries=(pulumi pulumi-language-nodejs pulumi-resource-postgresql pulumi-resource-random)

complete() { [ -f "$out/bin/.complete" ] && for b in "${binaries[@]}"; do [ -x "$out/bin/$b" ] || return 1; done; }

if [ "${1:-}" = "--locate" ]; then
    if complete; then echo "$out/bin"; exit 0; fi
    log "not built for these versions ($key); run: npm run engine"
    exit 1
fi
if complete; then
    log "cached: $key"
    echo "$out/bin"
    exit 0
fi

command -v go >/dev/null || { log "Go is needed to build the engine (Go 1.26 or later: https://go.dev/dl/)"; exit 1; }
export CGO_ENABLED=0 GOFLAGS="-mod=readonly -trimpath -buildvcs=false" GOTOOLCHAIN=local
# The module proxy serves this pseudo-version of the upstream random provider, but the checksum
# database has no entry for it: go.sum, committed here, is what pins its content.
export GONOSUMDB=github.com/terraform-providers/terraform-provider-random
mkdir -p "$out/bin" "$out/work"
rm -f "$out/bin/.complete"
started=$SECONDS

build() { # build <module dir> <package> <output> <ldflags>
    local started=$SECONDS
    log "building $3 ..."
    (cd "$1" && go build -tags osusergo,grpcnotrace -ldflags "-s -w $4" -o "$3" "$2")
    log "built $(basename "$3") in $((SECONDS - started))s"
}

# A bridged provider: tfgen writes the Pulumi schema (and the bridge's metadata), which the plugin
# embeds. Both are generated in a copy of the module under the cache, never in the checkout.
build_provider() { # build_provider <name> <npm version>
    local name=$1 version=$2 work="$out/work/$1"
    rm -rf "$work" && cp -r "$here/$name" "$work"
    build "$work" "./cmd/pulumi-tfgen-$name" "$out/work/pulumi-tfgen-$name" "-X main.version=$version"
    "$out/work/pulumi-tfgen-$name" schema --out "$work/generated" >"$out/work/tfgen-$name.log" 2>&1 \
        || { cat "$out/work/tfgen-$name.log" >&2; exit 1; }
    node -e 'const fs = require("fs"); const [from, to, version] = process.argv.slice(1);
             const schema = JSON.parse(fs.readFileSync(from, "utf8")); schema.version = version;
             fs.writeFileSync(to, JSON.stringify(schema))' \
        "$work/generated/schema.json" "$work/cmd/pulumi-resource-$name/schema.json" "$version"
    if [ -f "$work/generated/bridge-metadata.json" ]; then cp "$work/generated/bridge-metadata.json" "$work/cmd/pulumi-resource-$name/"; fi
    build "$work" "./cmd/pulumi-resource-$name" "$out/bin/pulumi-resource-$name" "-X main.version=$version"
}

build "$here/cli" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$out/bin/pulumi" \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$pulumi_version"
build "$here/language-nodejs" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs "$out/bin/pulumi-language-nodejs" \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$language_version"
build_provider postgresql "$postgresql_version"
build_provider random "$random_version"

rm -rf "$out/work"
touch "$out/bin/.complete"
log "engine ready in $((SECONDS - started))s: $key"
echo "$out/bin"
