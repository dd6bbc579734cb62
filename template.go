// Package chatter is the module root. It carries the deployment template as bytes,
// so the dev stack and tests build resources from the same definition SAM deploys,
// without depending on file paths.
package chatter

import _ "embed"

// TemplateYAML is template.yaml, the SAM template that defines chatter's resources.
//
//go:embed template.yaml
var TemplateYAML []byte
