package resources

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/chatterhq/chatter/internal/httpapi/httpcore"
	"github.com/chatterhq/chatter/internal/workflow"
)

// The node-type catalogue in two shapes, both built from workflow.Kinds: GET
// /workflows/node-types is the predecessor's bare array of NodeTypeResponse (with
// chatter's aliases, defaults and field notes on each), and GET
// /workflows/node-types/modern is its object of supported types, per-type details
// and capabilities, plus chatter's documentation of the condition language
// (conditions).

// NodeType is one node kind: the predecessor's NodeTypeResponse (type, name,
// description, category, properties, icon, color) with chatter's aliases, config
// defaults and field notes.
type NodeType struct {
	Type        string         `json:"type"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Category    string         `json:"category"`
	Properties  []NodeProperty `json:"properties"`
	Icon        *string        `json:"icon"`
	Color       *string        `json:"color"`
	Aliases     []string       `json:"aliases,omitempty"`
	// ConfigAliases maps every other accepted spelling of a config key (the old
	// editor's and engine's) to its field, from workflow's one alias table.
	ConfigAliases map[string]string `json:"config_aliases,omitempty"`
	Defaults      workflow.Config   `json:"defaults"`
	Fields        map[string]string `json:"fields"`
}

// NodeProperty is one config field of a kind: the predecessor's
// NodePropertyDefinition. type is integer, number, boolean, string, array, object,
// any, or select (with options); the range, when the field has one, is min_value
// and max_value.
type NodeProperty struct {
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	Required     bool     `json:"required"`
	DefaultValue any      `json:"default_value"`
	Options      []string `json:"options"`
	MinValue     *float64 `json:"min_value"`
	MaxValue     *float64 `json:"max_value"`
	Description  string   `json:"description,omitempty"`
}

// kindLabels are each kind's display name and editor category (the predecessor's).
var kindLabels = map[workflow.Kind][2]string{
	workflow.KindStart: {"Start", "control"}, workflow.KindEnd: {"End", "control"},
	workflow.KindLLM: {"LLM", "processing"}, workflow.KindTools: {"Tools", "processing"},
	workflow.KindMemory: {"Memory", "storage"}, workflow.KindRetrieval: {"Retrieval", "data"},
	workflow.KindConditional: {"Conditional", "control"}, workflow.KindLoop: {"Loop", "control"},
	workflow.KindVariable: {"Variable", "data"}, workflow.KindErrorHandler: {"Error Handler", "control"},
	workflow.KindDelay: {"Delay", "utility"}, workflow.KindHuman: {"Human", "control"},
}

var (
	rangeRE = regexp.MustCompile(`(-?\d+(?:\.\d+)?)\.\.(-?\d+(?:\.\d+)?)`)
	typeRE  = regexp.MustCompile(`^(integer|number|boolean|string|array|object|any)\b[:\s]*`)
	enumRE  = regexp.MustCompile(`^[a-z_]+(\|[a-z_]+)+`)
)

func nodeType(s *workflow.KindSpec) NodeType {
	label, ok := kindLabels[s.Kind]
	if !ok {
		label = [2]string{strings.ReplaceAll(string(s.Kind), "_", " "), "processing"}
	}
	out := NodeType{Type: string(s.Kind), Name: label[0], Description: s.Description, Category: label[1],
		Properties: []NodeProperty{}, Aliases: s.Aliases, ConfigAliases: s.ConfigAliases, Defaults: s.Defaults, Fields: s.Fields}
	if out.Fields == nil {
		out.Fields = map[string]string{}
	}
	var defaults map[string]any
	b, _ := json.Marshal(s.Defaults)
	_ = json.Unmarshal(b, &defaults)
	names := make([]string, 0, len(s.Fields))
	for name := range s.Fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		out.Properties = append(out.Properties, nodeProperty(name, s.Fields[name], defaults[name]))
	}
	return out
}

// nodeProperty reads a field note ("integer 1..50", "set|get|append",
// "string: model id") as a property.
func nodeProperty(name, note string, def any) NodeProperty {
	p := NodeProperty{Name: name, Type: "string", DefaultValue: def, Description: note}
	if m := enumRE.FindString(note); m != "" {
		p.Type, p.Options = "select", strings.Split(m, "|")
	} else if m := typeRE.FindStringSubmatch(note); m != nil {
		p.Type = m[1]
	}
	if m := rangeRE.FindStringSubmatch(note); m != nil {
		lo, _ := strconv.ParseFloat(m[1], 64)
		hi, _ := strconv.ParseFloat(m[2], 64)
		p.MinValue, p.MaxValue = &lo, &hi
	}
	return p
}

// NodeTypes lists every node kind as the predecessor's bare array of NodeType.
func NodeTypes() http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, _ string) error {
		if err := onlyQuery(r); err != nil {
			return err
		}
		kinds := workflow.Kinds()
		out := make([]NodeType, len(kinds))
		for i, s := range kinds {
			out[i] = nodeType(s)
		}
		httpcore.WriteJSON(w, r, http.StatusOK, out)
		return nil
	})
}

// ModernNodeTypes is the answer of GET /workflows/node-types/modern: the
// predecessor's supported_types, type_details and capabilities, and chatter's
// conditions (the condition language: its variables, its allowlist of functions
// and its budgets).
type ModernNodeTypes struct {
	SupportedTypes []string              `json:"supported_types"`
	TypeDetails    map[string]TypeDetail `json:"type_details"`
	Capabilities   map[string]bool       `json:"capabilities"`
	Conditions     any                   `json:"conditions"` // cond.Language()
}

// TypeDetail is one kind in the modern catalogue. Every config field of every kind
// has a default, so required_config is empty and optional_config lists them all;
// the example is the kind's default config.
type TypeDetail struct {
	Description    string   `json:"description"`
	RequiredConfig []string `json:"required_config"`
	OptionalConfig []string `json:"optional_config"`
	Examples       []string `json:"examples"`
	Aliases        []string `json:"aliases,omitempty"`
}

// modernCapabilities says what the engine does: conditions route, loops iterate,
// variables and error handlers work, tool calls are bounded per run. Memory is a
// fixed window, not the predecessor's adaptive one.
var modernCapabilities = map[string]bool{"conditional_routing": true, "loop_iteration": true,
	"variable_management": true, "error_recovery": true, "adaptive_memory": false, "intelligent_tool_execution": true}

// ModernNodeTypesHandler answers GET /workflows/node-types/modern; v describes the
// condition language.
func ModernNodeTypesHandler(v Validation) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request, _ string) error {
		if err := onlyQuery(r); err != nil {
			return err
		}
		if v.conditions == nil {
			return ErrNoValidation
		}
		out := ModernNodeTypes{SupportedTypes: []string{}, TypeDetails: map[string]TypeDetail{},
			Capabilities: modernCapabilities, Conditions: v.conditions.Describe()}
		for _, s := range workflow.Kinds() {
			k := string(s.Kind)
			out.SupportedTypes = append(out.SupportedTypes, k)
			d := TypeDetail{Description: s.Description, RequiredConfig: []string{}, OptionalConfig: []string{},
				Examples: []string{}, Aliases: s.Aliases}
			for name := range s.Fields {
				d.OptionalConfig = append(d.OptionalConfig, name)
			}
			sort.Strings(d.OptionalConfig)
			if b, err := json.Marshal(s.Defaults); err == nil && string(b) != "{}" {
				d.Examples = append(d.Examples, string(b))
			}
			out.TypeDetails[k] = d
		}
		httpcore.WriteJSON(w, r, http.StatusOK, out)
		return nil
	})
}
