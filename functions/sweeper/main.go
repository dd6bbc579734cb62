// Command sweeper ends runs whose instance died: on a schedule (template.yaml,
// rate(1 minute)) it fails every running execution past its deadline with code
// timeout, releases its Idempotency-Key and emits execution_failed
// (executor.Sweeper).
package main

import "github.com/chatterhq/chatter/internal/lambdaapp/sweep"

func main() { sweep.Start() }
