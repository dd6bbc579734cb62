package resources

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/wire/errcode"

	"github.com/chatterhq/chatter/internal/workflow"
)

// A template in the predecessor's shape is params in a free-form default_params
// object plus required_tools and required_retrievers; chatter's is typed params plus
// capabilities. Both are read and written, and they map as follows:
//
//   - default_params keys that name a param (provider, model, system_prompt,
//     temperature, max_tokens, memory_window, top_k, max_tool_calls, allowed_tools;
//     system_message and max_documents are the old names of system_prompt and top_k)
//     set it; enable_memory, enable_retrieval and enable_tools set the capabilities;
//     any other key is kept as it is and returned, but no run reads it.
//   - required_tools switches tools on and, unless allowed_tools is set, is the
//     allowed_tools; required_retrievers (any names) switches retrieval on. chatter
//     has one retriever, the user's documents, and answers ["documents"].
//   - chatter's own params and capabilities, when sent, win over default_params (an
//     exported template carries both, and they agree).
//   - is_public is accepted and not applied: publishing a template every user sees is
//     an operator's action. tags, base_template_id and workflow_definition_id are
//     kept and returned; base_template_id also seeds a new template (see
//     CreateTemplate).

// Owners of templates that are not a user's.
const (
	OwnerBuiltin = "system" // built-in templates
	OwnerPublic  = "public" // published templates
)

// DocumentsRetriever is the one retriever chatter has.
const DocumentsRetriever = "documents"

// DefaultCategory is the category of a template that names none.
const DefaultCategory = "custom"

// TemplateResponse is a template as every template route answers it: the
// predecessor's WorkflowTemplateResponse, with chatter's typed capabilities and
// params beside it.
type TemplateResponse struct {
	ID                  string         `json:"id"`
	Name                string         `json:"name"`
	Description         string         `json:"description"`
	Category            string         `json:"category"`
	DefaultParams       map[string]any `json:"default_params"`
	RequiredTools       []string       `json:"required_tools"`
	RequiredRetrievers  []string       `json:"required_retrievers"`
	Tags                []string       `json:"tags"`
	IsPublic            bool           `json:"is_public"`
	OwnerID             string         `json:"owner_id"`
	BaseTemplateID      *string        `json:"base_template_id"`
	IsBuiltin           bool           `json:"is_builtin"`
	Version             int            `json:"version"`
	IsLatest            bool           `json:"is_latest"`
	Rating              *float64       `json:"rating"`
	RatingCount         int            `json:"rating_count"`
	UsageCount          int            `json:"usage_count"`
	SuccessRate         *float64       `json:"success_rate"`
	ConfigHash          string         `json:"config_hash"`
	EstimatedComplexity *int           `json:"estimated_complexity"`

	// chatter's.
	Capabilities         workflow.Capabilities `json:"capabilities"`
	Params               workflow.Params       `json:"params"`
	WorkflowDefinitionID *string               `json:"workflow_definition_id,omitempty"`
}

// templateResponse converts a template the caller (uid) can read. Templates are
// not versioned, rated or counted: version 1, latest, no rating, usage 0.
// config_hash is a SHA-256 of the capabilities and params, so it changes exactly
// when what a run generates does.
func templateResponse(t *workflow.Template, uid string) TemplateResponse {
	owner := uid
	switch {
	case t.Builtin:
		owner = OwnerBuiltin
	case t.Public:
		owner = OwnerPublic
	}
	out := TemplateResponse{ID: t.ID, Name: t.Name, Description: t.Description, Category: t.Category,
		DefaultParams: defaultParams(t), Tags: t.Tags, IsPublic: t.Public || t.Builtin, OwnerID: owner,
		BaseTemplateID: nonEmpty(t.BaseTemplateID), IsBuiltin: t.Builtin, Version: 1, IsLatest: true,
		ConfigHash: configHash(t), Capabilities: t.Capabilities, Params: t.Params,
		WorkflowDefinitionID: nonEmpty(t.DefinitionID)}
	if out.Category == "" {
		out.Category = DefaultCategory
	}
	if t.Capabilities.Tools {
		out.RequiredTools = slices.Clone(t.Params.AllowedTools)
		if out.RequiredTools == nil {
			out.RequiredTools = []string{}
		}
	}
	if t.Capabilities.Retrieval {
		out.RequiredRetrievers = []string{DocumentsRetriever}
	}
	return out
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// capabilityKeys are the default_params keys that switch capabilities, in the
// order of workflow.Capabilities' fields.
var capabilityKeys = []string{"enable_memory", "enable_retrieval", "enable_tools"}

// paramAliases are the predecessor's default_params names of params.
var paramAliases = map[string]string{"system_message": "system_prompt", "max_documents": "top_k"}

// paramKeys are the JSON names of workflow.Params' fields.
var paramKeys = jsonNames[workflow.Params]()

// defaultParams is a template's default_params: the extra keys it keeps, its set
// params and its capabilities as enable_* flags.
func defaultParams(t *workflow.Template) map[string]any {
	out := map[string]any{}
	for k, v := range t.ExtraParams {
		out[k] = v
	}
	b, _ := json.Marshal(t.Params) // plain fields: cannot fail
	var set map[string]any
	_ = json.Unmarshal(b, &set)
	for k, v := range set {
		out[k] = v
	}
	c := t.Capabilities
	for i, on := range []bool{c.Memory, c.Retrieval, c.Tools} {
		out[capabilityKeys[i]] = on
	}
	return out
}

func configHash(t *workflow.Template) string {
	b, _ := json.Marshal(struct {
		C workflow.Capabilities `json:"capabilities"`
		P workflow.Params       `json:"params"`
	}{t.Capabilities, t.Params})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// templateFields says which keys a template object may carry.
type templateFields int

const (
	// strictTemplate takes the documented fields of a create or update body
	// (WorkflowTemplateCreate and WorkflowTemplateUpdate, plus chatter's capabilities
	// and params) and refuses any other.
	strictTemplate templateFields = iota
	// templateDocument is a template object the old contract types as any object
	// (import, validate, inline execution): it also carries what an export has (id,
	// owner_id, config_hash, timestamps, ...), and keys chatter does not know are
	// ignored.
	templateDocument
)

// templateKeys are the keys a template object may set.
var templateKeys = []string{"name", "description", "category", "default_params", "required_tools",
	"required_retrievers", "tags", "is_public", "workflow_definition_id", "base_template_id", "capabilities", "params"}

// templatePatch is a decoded template object. Each field is nil when the object did
// not set it, so an update changes only what it names.
type templatePatch struct {
	name, description, category *string
	params                      *workflow.Params // from params, else default_params and required_tools
	extra                       map[string]any   // default_params keys no param takes
	capabilities                *workflow.Capabilities
	flags                       [3]*bool // capabilities from default_params' enable_* and required_*
	tags                        *[]string
	baseTemplateID              *string
	definitionID                *string
}

// decodeTemplate reads a template object in the predecessor's shape, chatter's, or
// a mix; at is its JSON pointer in the body ("" for the body itself). A null value
// is not set (the old schema's fields are nullable).
func decodeTemplate(raw json.RawMessage, at string, fields templateFields) (*templatePatch, error) {
	var obj map[string]json.RawMessage
	if !isObject(raw) || json.Unmarshal(raw, &obj) != nil {
		return nil, httpcore.FieldErr(errcode.InvalidInput, pointerOr(at, "template"), "a template must be a JSON object")
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the first problem named is always the same one
	p := &templatePatch{}
	var required []string
	for _, k := range keys {
		v := obj[k]
		if isNull(v) {
			continue
		}
		if !slices.Contains(templateKeys, k) {
			if fields == strictTemplate {
				return nil, httpcore.FieldErr(errcode.InvalidInput, under(at, k), fmt.Sprintf("unknown field %q", k))
			}
			continue
		}
		var err error
		switch k {
		case "name":
			err = httpcore.DecodeValue(v, &p.name, at+"/name")
		case "description":
			err = httpcore.DecodeValue(v, &p.description, at+"/description")
		case "category":
			err = httpcore.DecodeValue(v, &p.category, at+"/category")
		case "default_params":
			err = p.defaultParams(v, at+"/default_params")
		case "required_tools":
			if err = httpcore.DecodeValue(v, &required, at+"/required_tools"); err == nil {
				p.setFlag(2, true)
			}
		case "required_retrievers":
			var names []string
			if err = httpcore.DecodeValue(v, &names, at+"/required_retrievers"); err == nil && len(names) > 0 {
				p.setFlag(1, true)
			}
		case "tags":
			err = httpcore.DecodeValue(v, &p.tags, at+"/tags")
		case "is_public":
			var public bool // accepted, not applied (see the package comment above)
			err = httpcore.DecodeValue(v, &public, at+"/is_public")
		case "workflow_definition_id":
			err = httpcore.DecodeValue(v, &p.definitionID, at+"/workflow_definition_id")
		case "base_template_id":
			err = httpcore.DecodeValue(v, &p.baseTemplateID, at+"/base_template_id")
		case "capabilities":
			err = httpcore.DecodeValue(v, &p.capabilities, at+"/capabilities")
		}
		if err != nil {
			return nil, err
		}
	}
	if v, ok := obj["params"]; ok && !isNull(v) { // chatter's params win over default_params
		var ps workflow.Params
		if err := httpcore.DecodeValue(v, &ps, at+"/params"); err != nil {
			return nil, err
		}
		p.params, p.extra = &ps, nil
	}
	if required != nil {
		if p.params == nil {
			p.params = &workflow.Params{}
		}
		if len(p.params.AllowedTools) == 0 {
			p.params.AllowedTools = required
		}
	}
	return p, nil
}

func (p *templatePatch) setFlag(i int, on bool) { p.flags[i] = &on }

// defaultParams splits default_params into params, capability flags and extra keys.
func (p *templatePatch) defaultParams(v json.RawMessage, at string) error {
	var m map[string]json.RawMessage
	if !isObject(v) || json.Unmarshal(v, &m) != nil {
		return httpcore.FieldErr(errcode.InvalidInput, at, "default_params must be an object")
	}
	known := map[string]json.RawMessage{}
	for k, raw := range m {
		name := k
		if a, ok := paramAliases[k]; ok {
			name = a
		}
		if i := slices.Index(capabilityKeys, k); i >= 0 {
			var on bool
			if err := httpcore.DecodeValue(raw, &on, at+"/"+k); err != nil {
				return err
			}
			p.setFlag(i, on)
			continue
		}
		if !paramKeys[name] {
			var x any
			_ = json.Unmarshal(raw, &x)
			if p.extra == nil {
				p.extra = map[string]any{}
			}
			p.extra[k] = x
			continue
		}
		if _, dup := known[name]; dup {
			return httpcore.FieldErr(errcode.InvalidInput, at+"/"+k, name+" is set twice, under both of its names")
		}
		if isNull(raw) {
			continue
		}
		var one workflow.Params // each key alone, so an error names the key as sent
		b, _ := json.Marshal(map[string]json.RawMessage{name: raw})
		if err := httpcore.DecodeValue(b, &one, ""); err != nil {
			return httpcore.FieldErr(errcode.InvalidInput, at+"/"+k, k+" has the wrong type")
		}
		known[name] = raw
	}
	b, _ := json.Marshal(known)
	var ps workflow.Params
	_ = json.Unmarshal(b, &ps) // each key decoded above
	p.params = &ps
	return nil
}

// apply sets what p names on t; fields p does not set keep t's values. Setting
// default_params or params replaces the params (and kept extra keys) as a whole.
func (p *templatePatch) apply(t *workflow.Template) {
	for _, f := range []struct{ dst, src *string }{{&t.Name, p.name}, {&t.Description, p.description},
		{&t.Category, p.category}, {&t.BaseTemplateID, p.baseTemplateID}, {&t.DefinitionID, p.definitionID}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if p.params != nil {
		t.Params, t.ExtraParams = *p.params, p.extra
	}
	caps := []*bool{&t.Capabilities.Memory, &t.Capabilities.Retrieval, &t.Capabilities.Tools}
	for i, on := range p.flags {
		if on != nil {
			*caps[i] = *on
		}
	}
	if p.capabilities != nil { // chatter's capabilities win over the flags
		t.Capabilities = *p.capabilities
	}
	if p.tags != nil {
		t.Tags = *p.tags
	}
}

func isObject(v json.RawMessage) bool { return bytes.HasPrefix(bytes.TrimSpace(v), []byte("{")) }

func isNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }

// under names key k of the object at pointer at: its bare name at the top level
// (as Decode names unknown fields), else its pointer.
func under(at, k string) string {
	if at == "" {
		return k
	}
	return at + "/" + k
}

func pointerOr(at, name string) string {
	if at == "" {
		return name
	}
	return at
}
