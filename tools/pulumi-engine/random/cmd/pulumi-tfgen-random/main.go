// pulumi-tfgen-random writes the Pulumi schema of the bridged provider; the build embeds it in
// pulumi-resource-random.
package main

import (
	pftfgen "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	"tenantdb.local/pulumi-engine/random"
)

var version = "0.0.0-dev" // set by build.sh from the lockfile's @pulumi/random

func main() {
	pftfgen.Main("random", random.Provider(version, []byte("{}")))
}
