// Package random maps the upstream Terraform random provider to the Pulumi package that the npm SDK
// @pulumi/random speaks to: the same package name and tokens (RandomPassword, ...).
package random

import (
	pf "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	"github.com/terraform-providers/terraform-provider-random/shim"
)

const (
	pkg = "random"
	mod = "index"
)

// Provider describes the bridged provider at the given version (the npm package's version).
// metadata is the bridge's bridge-metadata.json: "{}" for tfgen, which writes it beside the schema,
// and that file for the plugin.
func Provider(version string, metadata []byte) tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:                           pf.ShimProvider(shim.NewProvider()),
		Name:                        pkg,
		Version:                     version,
		Description:                 "Random values (the Terraform random provider, bridged), built by tenantdb.",
		License:                     "Apache-2.0",
		MetadataInfo:                tfbridge.NewProviderMetadata(metadata),
		EnableAccurateBridgePreview: true,
		EnableRawStateDelta:         true,
	}
	// random_password becomes random:index/randomPassword:RandomPassword, as in the released package.
	info.MustComputeTokens(tokens.SingleModule("random_", mod, func(module, name string) (string, error) {
		return tokens.MakeStandard(pkg)(module, "Random"+name)
	}))
	return info
}
