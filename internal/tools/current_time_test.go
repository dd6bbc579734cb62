package tools

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestCurrentTime_ReportsTimeAndWeekdayInZone(t *testing.T) {
	fixed := time.Date(2026, 11, 25, 19, 20, 0, 0, time.UTC)
	r, err := NewRegistry(CurrentTime(func() time.Time { return fixed }))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args string
		want string
	}{
		{"default is UTC", `{}`, `{"time":"2026-11-25T19:20:00Z","timezone":"UTC","weekday":"Wednesday"}`},
		{"empty zone is UTC", `{"timezone":""}`, `{"time":"2026-11-25T19:20:00Z","timezone":"UTC","weekday":"Wednesday"}`},
		{"paris", `{"timezone":"Europe/Paris"}`, `{"time":"2026-11-25T20:20:00+01:00","timezone":"Europe/Paris","weekday":"Wednesday"}`},
		{"kolkata crosses midnight", `{"timezone":"Asia/Kolkata"}`, `{"time":"2026-11-26T00:50:00+05:30","timezone":"Asia/Kolkata","weekday":"Thursday"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := r.Call(context.Background(), "current_time", json.RawMessage(tt.args))
			if res.IsError {
				t.Fatalf("error result: %s", res.Content)
			}
			if res.Content != tt.want {
				t.Errorf("Content = %s, want %s", res.Content, tt.want)
			}
		})
	}
}

func TestCurrentTime_RejectsBadArguments(t *testing.T) {
	r, err := NewRegistry(CurrentTime(time.Now))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    string
		wantErr string
	}{
		{"unknown zone", `{"timezone":"Mars/Olympus_Mons"}`, `unknown time zone "Mars/Olympus_Mons"`},
		{"server local zone", `{"timezone":"Local"}`, `unknown time zone "Local"`},
		{"path traversal", `{"timezone":"../../etc/passwd"}`, "unknown time zone"},
		{"wrong type", `{"timezone":5}`, "arguments must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := r.Call(context.Background(), "current_time", json.RawMessage(tt.args))
			if !res.IsError || !strings.Contains(res.Content, tt.wantErr) {
				t.Errorf("result = %+v, want error containing %q", res, tt.wantErr)
			}
		})
	}
}
