// Package postgresql maps the upstream Terraform PostgreSQL provider to the Pulumi package that the
// npm SDK @pulumi/postgresql speaks to: the same package name, tokens and provider settings, so the
// SDK's resources reach this plugin unchanged.
package postgresql

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	bridgetokens "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	upstream "github.com/terraform-providers/terraform-provider-postgresql/postgresql"
)

const (
	pkg = "postgresql"
	mod = "index"
)

func resourceToken(name, file string) tokens.Type {
	return tokens.Type(pkg + ":" + mod + "/" + file + ":" + name)
}

// Provider describes the bridged provider at the given version (the npm package's version).
func Provider(version string) tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:           shimv2.NewProvider(upstream.Provider()),
		Name:        pkg,
		Version:     version,
		Description: "PostgreSQL resources (the Terraform provider by cyrilgdn, bridged), built by tenantdb.",
		License:     "Apache-2.0",
		GitHubOrg:   "cyrilgdn",
		Config: map[string]*tfbridge.SchemaInfo{
			"sslmode":         {Default: &tfbridge.DefaultInfo{EnvVars: []string{"PGSSLMODE"}}},
			"connect_timeout": {Default: &tfbridge.DefaultInfo{EnvVars: []string{"PGCONNECT_TIMEOUT"}, Value: 180}},
		},
		Resources: map[string]*tfbridge.ResourceInfo{
			"postgresql_grant_role": {Tok: resourceToken("GrantRole", "grantRole")},
			// A changed grant is revoked before the new one is granted, as the released provider does.
			"postgresql_grant": {Tok: resourceToken("Grant", "grant"), DeleteBeforeReplace: true},
		},
		EnableZeroDefaultSchemaVersion: true,
		EnableAccurateBridgePreview:    true,
	}
	// The released package names this resource DefaultPrivileges and keeps DefaultPrivileg as an alias.
	info.RenameResourceWithAlias("postgresql_default_privileges",
		resourceToken("DefaultPrivileg", "defaultPrivileg"),
		resourceToken("DefaultPrivileges", "defaultPrivileges"), mod, mod, nil)
	info.MustComputeTokens(bridgetokens.SingleModule("postgresql_", mod, bridgetokens.MakeStandard(pkg)))
	info.SetAutonaming(255, "-")
	return info
}
