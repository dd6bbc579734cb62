package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	// Lambda's provided.al2023 runtime may ship without /usr/share/zoneinfo; embedding
	// the IANA database (~450 KB) makes zone lookups work the same everywhere.
	_ "time/tzdata"
)

var currentTimeSchema = json.RawMessage(`{"type":"object","properties":{"timezone":{"type":"string",` +
	`"description":"IANA time zone name such as Europe/Paris or America/New_York; default UTC"}},"additionalProperties":false}`)

// CurrentTime returns the current_time tool: args {"timezone": IANA name, optional,
// default "UTC"}, result {"time": RFC3339, "timezone", "weekday"}. now is the clock,
// injected so tests are deterministic; Builtins uses time.Now.
func CurrentTime(now func() time.Time) Tool {
	return Tool{
		Name:        "current_time",
		Description: "Get the current date and time (RFC 3339) and weekday in a time zone.",
		Parameters:  currentTimeSchema,
		Handler: func(_ context.Context, args json.RawMessage) (string, error) {
			var in struct {
				Timezone string `json:"timezone"`
			}
			if err := json.Unmarshal(args, &in); err != nil {
				return "", fmt.Errorf("arguments must be {\"timezone\": string}: %w", err)
			}
			if in.Timezone == "" {
				in.Timezone = "UTC"
			}
			// "Local" would answer with the server's zone, which means nothing to the user.
			loc, err := time.LoadLocation(in.Timezone)
			if err != nil || in.Timezone == "Local" {
				return "", fmt.Errorf("unknown time zone %q; use an IANA name such as Europe/Paris", in.Timezone)
			}
			t := now().In(loc)
			out, err := json.Marshal(struct {
				Time     string `json:"time"`
				Timezone string `json:"timezone"`
				Weekday  string `json:"weekday"`
			}{t.Format(time.RFC3339), in.Timezone, t.Weekday().String()})
			if err != nil {
				return "", fmt.Errorf("encoding time: %w", err)
			}
			return string(out), nil
		},
	}
}
