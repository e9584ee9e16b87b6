// pulumi-tfgen-postgresql writes the Pulumi schema of the bridged provider; the build embeds it in
// pulumi-resource-postgresql.
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	"tenantdb.local/pulumi-engine/postgresql"
)

var version = "0.0.0-dev" // set by build.sh from the lockfile's @pulumi/postgresql

func main() {
	tfgen.Main("postgresql", version, postgresql.Provider(version))
}
